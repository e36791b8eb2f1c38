// The CBLAS GEMMs (row- and column-major, strided and grouped batches) with the reference CBLAS's
// argument checks, reported through cblas_xerbla as the reference reports them.
#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "../core/threads.hpp"
#include "blas_gemm.hpp"
#include "export.hpp"
#include "kernels_blas.h"

#ifdef _OPENMP
#include <omp.h>
#endif

// Defined by the reference CBLAS (libblas3) or by a program (the CBLAS testers), never here: a
// program that checks our argument errors sees them through its own cblas_xerbla, reading
// RowMajorStrg as the reference's callers set it. Weak references: absent, they are null.
extern "C" {
void cblas_xerbla(int p, const char* rout, const char* form, ...) __attribute__((weak));
extern int RowMajorStrg __attribute__((weak));
}

namespace {

using kernels::dim_t;
using kernels::inc_t;

void set_row_major(int v) {
    if (&RowMajorStrg != nullptr) RowMajorStrg = v;
}

// The reference's report: its cblas_xerbla, else the message it prints.
void report(int info, const char* rout) {
    if (cblas_xerbla != nullptr) {
        cblas_xerbla(info, rout, "");
        return;
    }
    std::fprintf(stderr, "Parameter %d to routine %s was incorrect\n", info, rout);
}

bool valid_trans(CBLAS_TRANSPOSE t) { return t == CblasNoTrans || t == CblasTrans || t == CblasConjTrans; }

// The argument of a GEMM found invalid first, in the reference CBLAS's order of checks.
enum class Bad { none, layout, transa, transb, m, n, k, lda, ldb, ldc };

// Row-major runs as the column-major product C^T = op(B)^T op(A)^T; as the reference, its checks
// are that swapped call's: n before m, ldb before lda.
Bad check_gemm(CBLAS_LAYOUT layout, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, int lda, int ldb,
               int ldc) {
    if (layout != CblasColMajor && layout != CblasRowMajor) return Bad::layout;
    if (!valid_trans(ta)) return Bad::transa;
    if (!valid_trans(tb)) return Bad::transb;
    const bool nota = ta == CblasNoTrans, notb = tb == CblasNoTrans;
    if (layout == CblasColMajor) {
        if (m < 0) return Bad::m;
        if (n < 0) return Bad::n;
        if (k < 0) return Bad::k;
        if (lda < std::max(1, nota ? m : k)) return Bad::lda;
        if (ldb < std::max(1, notb ? k : n)) return Bad::ldb;
        if (ldc < std::max(1, m)) return Bad::ldc;
        return Bad::none;
    }
    if (n < 0) return Bad::n;
    if (m < 0) return Bad::m;
    if (k < 0) return Bad::k;
    if (ldb < std::max(1, notb ? n : k)) return Bad::ldb;  // row-major B: k x n, or n x k transposed
    if (lda < std::max(1, nota ? k : m)) return Bad::lda;
    if (ldc < std::max(1, n)) return Bad::ldc;
    return Bad::none;
}

// Argument numbers of cblas_?gemm and the grouped batch (same positions up to ldc).
int gemm_position(Bad b) {
    constexpr int pos[] = {0, 1, 2, 3, 4, 5, 6, 9, 11, 14};
    return pos[static_cast<int>(b)];
}

// The reference CBLAS's numbers for cblas_?gemm: row-major reports the swapped Fortran call's
// argument (+1), m as 5, n as 4, lda as 11, ldb as 9; the CBLAS testers map them back (4 <-> 5,
// 9 <-> 11) because RowMajorStrg is set.
int reference_position(CBLAS_LAYOUT layout, Bad b) {
    if (layout == CblasRowMajor) {
        if (b == Bad::m) return 5;
        if (b == Bad::n) return 4;
        if (b == Bad::lda) return 11;
        if (b == Bad::ldb) return 9;
    }
    return gemm_position(b);
}

// Element strides of op(X) (rows x cols) for X stored with leading dimension ld in `layout`.
struct Strides {
    inc_t rs, cs;
};
Strides strides_of(CBLAS_LAYOUT layout, bool trans, int ld) {
    const inc_t l = ld;
    const bool col = layout == CblasColMajor;
    if (col != trans) return {1, l};  // column-major as stored, or a transposed row-major X
    return {l, 1};
}

template <typename T>
void run(CBLAS_LAYOUT layout, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, T alpha, const T* a,
         int lda, const T* b, int ldb, T beta, T* c, int ldc, int nthreads) {
    const Strides sa = strides_of(layout, ta != CblasNoTrans, lda), sb = strides_of(layout, tb != CblasNoTrans, ldb);
    const Strides sc = strides_of(layout, false, ldc);
    kernels::blas::gemm<T>(m, n, k, alpha, a, sa.rs, sa.cs, b, sb.rs, sb.cs, beta, c, sc.rs, sc.cs, nthreads);
}

template <typename T>
void cblas_gemm(const char* rout, CBLAS_LAYOUT layout, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k,
                T alpha, const T* a, int lda, const T* b, int ldb, T beta, T* c, int ldc) {
    set_row_major(layout == CblasRowMajor ? 1 : 0);  // as the reference, before any report
    if (const Bad bad = check_gemm(layout, ta, tb, m, n, k, lda, ldb, ldc); bad != Bad::none) {
        report(reference_position(layout, bad), rout);
        set_row_major(0);
        return;
    }
    set_row_major(0);
    run<T>(layout, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, 0);
}

// The items of a batch: threads across items when each product is too small to share, else
// threads inside each product, one after the other.
template <typename T, typename Item>
void run_batch(dim_t count, int m, int n, int k, Item item) {
    const int nt = kernels::blas::threads_for_call();
    const int inner = kernels::blas::useful_threads_for<T>(m, n, k, nt);
    if (inner >= nt || count < 2 || nt < 2) {
        for (dim_t i = 0; i < count; ++i) item(i, inner);
        return;
    }
#ifdef _OPENMP
#pragma omp parallel for num_threads(static_cast<int>(std::min<dim_t>(nt, count))) schedule(dynamic, 1)
#endif
    for (dim_t i = 0; i < count; ++i) item(i, 1);
}

template <typename T>
void cblas_gemm_batch_strided(const char* rout, CBLAS_LAYOUT layout, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m,
                              int n, int k, T alpha, const T* a, int lda, int stridea, const T* b, int ldb,
                              int strideb, T beta, T* c, int ldc, int stridec, int batch) {
    // Numbers of this signature: lda 9, stridea 10, ldb 12, strideb 13, ldc 16, stridec 17, batch 18.
    // Outputs must not overlap (the products run concurrently): stridec covers one C.
    constexpr int pos[] = {0, 1, 2, 3, 4, 5, 6, 9, 12, 16};
    int info = pos[static_cast<int>(check_gemm(layout, ta, tb, m, n, k, lda, ldb, ldc))];
    const std::int64_t c_extent = static_cast<std::int64_t>(ldc) * (layout == CblasColMajor ? n : m);
    if (info == 0) {
        if (stridea < 0) info = 10;
        else if (strideb < 0) info = 13;
        else if (batch < 0) info = 18;
        else if (batch > 1 && m > 0 && n > 0 && stridec < c_extent) info = 17;
    }
    if (info) return report(info, rout);
    run_batch<T>(batch, m, n, k, [&](dim_t i, int nt) {
        run<T>(layout, ta, tb, m, n, k, alpha, a + i * stridea, lda, b + i * strideb, ldb, beta, c + i * stridec, ldc, nt);
    });
}

template <typename T>
void cblas_gemm_batch(const char* rout, CBLAS_LAYOUT layout, const CBLAS_TRANSPOSE* ta, const CBLAS_TRANSPOSE* tb,
                      const int* m, const int* n, const int* k, const T* alpha, const T** a, const int* lda,
                      const T** b, const int* ldb, const T* beta, T** c, const int* ldc, int groups,
                      const int* group_size) {
    // Every group is checked before anything runs (a bad group leaves every C as it was). Numbers:
    // this signature's positions (group_count 15, group_size 16); a group's error names the array.
    if (groups < 0) return report(15, rout);
    for (int g = 0; g < groups; ++g) {
        if (group_size[g] < 0) return report(16, rout);
        if (const Bad bad = check_gemm(layout, ta[g], tb[g], m[g], n[g], k[g], lda[g], ldb[g], ldc[g]); bad != Bad::none)
            return report(gemm_position(bad), rout);
    }
    dim_t first = 0;
    for (int g = 0; g < groups; ++g) {
        run_batch<T>(group_size[g], m[g], n[g], k[g], [&](dim_t i, int nt) {
            const dim_t j = first + i;
            run<T>(layout, ta[g], tb[g], m[g], n[g], k[g], alpha[g], a[j], lda[g], b[j], ldb[g], beta[g], c[j], ldc[g], nt);
        });
        first += group_size[g];
    }
}

}  // namespace

KERNELS_BLAS_API void cblas_sgemm(CBLAS_LAYOUT layout, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k,
                                  float alpha, const float* a, int lda, const float* b, int ldb, float beta, float* c,
                                  int ldc) {
    cblas_gemm<float>("cblas_sgemm", layout, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

KERNELS_BLAS_API void cblas_dgemm(CBLAS_LAYOUT layout, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k,
                                  double alpha, const double* a, int lda, const double* b, int ldb, double beta,
                                  double* c, int ldc) {
    cblas_gemm<double>("cblas_dgemm", layout, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

KERNELS_BLAS_API void cblas_sgemm_batch_strided(CBLAS_LAYOUT layout, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m,
                                                int n, int k, float alpha, const float* a, int lda, int stridea,
                                                const float* b, int ldb, int strideb, float beta, float* c, int ldc,
                                                int stridec, int batch) {
    cblas_gemm_batch_strided<float>("cblas_sgemm_batch_strided", layout, ta, tb, m, n, k, alpha, a, lda, stridea, b,
                                    ldb, strideb, beta, c, ldc, stridec, batch);
}

KERNELS_BLAS_API void cblas_dgemm_batch_strided(CBLAS_LAYOUT layout, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m,
                                                int n, int k, double alpha, const double* a, int lda, int stridea,
                                                const double* b, int ldb, int strideb, double beta, double* c, int ldc,
                                                int stridec, int batch) {
    cblas_gemm_batch_strided<double>("cblas_dgemm_batch_strided", layout, ta, tb, m, n, k, alpha, a, lda, stridea, b,
                                     ldb, strideb, beta, c, ldc, stridec, batch);
}

KERNELS_BLAS_API void cblas_sgemm_batch(CBLAS_LAYOUT layout, const CBLAS_TRANSPOSE* ta, const CBLAS_TRANSPOSE* tb,
                                        const int* m, const int* n, const int* k, const float* alpha, const float** a,
                                        const int* lda, const float** b, const int* ldb, const float* beta, float** c,
                                        const int* ldc, int groups, const int* group_size) {
    cblas_gemm_batch<float>("cblas_sgemm_batch", layout, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, groups,
                            group_size);
}

KERNELS_BLAS_API void cblas_dgemm_batch(CBLAS_LAYOUT layout, const CBLAS_TRANSPOSE* ta, const CBLAS_TRANSPOSE* tb,
                                        const int* m, const int* n, const int* k, const double* alpha,
                                        const double** a, const int* lda, const double** b, const int* ldb,
                                        const double* beta, double** c, const int* ldc, int groups,
                                        const int* group_size) {
    cblas_gemm_batch<double>("cblas_dgemm_batch", layout, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                             groups, group_size);
}

KERNELS_BLAS_API void kernels_blas_set_num_threads(int n) {
    kernels::blas::threads_for_call();  // the environment first, so that it does not override this later
    kernels::set_num_threads(n);
}

KERNELS_BLAS_API int kernels_blas_get_num_threads(void) { return kernels::blas::threads_for_call(); }
