// The Fortran BLAS ABI: sgemm_ and dgemm_ (gfortran: LP64 integers, hidden character lengths), with
// the reference DGEMM's argument checks and a weak xerbla_ that a program's own XERBLA replaces.
#include <algorithm>
#include <cstddef>
#include <cstdio>

#include "blas_gemm.hpp"
#include "export.hpp"
#include "kernels_blas.h"

// The reference XERBLA's message, and return (netlib's STOPs; a library should not end the
// program). Weak, and called through the PLT, so the testers' and any program's XERBLA wins.
KERNELS_BLAS_API __attribute__((weak)) void xerbla_(const char* srname, const int* info, std::size_t len) {
    std::fprintf(stderr, " ** On entry to %.*s parameter number %d had an illegal value\n",
                 static_cast<int>(std::min<std::size_t>(len, 32)), srname, *info);
}

namespace {

using kernels::dim_t;
using kernels::inc_t;

bool same(char c, char upper) { return c == upper || c == upper + ('a' - 'A'); }  // LSAME

template <typename T>
void fortran_gemm(const char* name, const char* transa, const char* transb, const int* m, const int* n,
                  const int* k, const T* alpha, const T* a, const int* lda, const T* b, const int* ldb,
                  const T* beta, T* c, const int* ldc) {
    const bool nota = same(*transa, 'N'), notb = same(*transb, 'N');
    const int nrowa = nota ? *m : *k, nrowb = notb ? *k : *n;
    int info = 0;  // the reference DGEMM's order of checks
    if (!nota && !same(*transa, 'C') && !same(*transa, 'T')) info = 1;
    else if (!notb && !same(*transb, 'C') && !same(*transb, 'T')) info = 2;
    else if (*m < 0) info = 3;
    else if (*n < 0) info = 4;
    else if (*k < 0) info = 5;
    else if (*lda < std::max(1, nrowa)) info = 8;
    else if (*ldb < std::max(1, nrowb)) info = 10;
    else if (*ldc < std::max(1, *m)) info = 13;
    if (info != 0) {
        xerbla_(name, &info, 6);
        return;
    }
    // Column-major: op(A)(i, p) is a[i + p*lda] (N) or a[p + i*lda] (T, C: real, so C == T).
    const inc_t la = *lda, lb = *ldb;
    kernels::blas::gemm<T>(*m, *n, *k, *alpha, a, nota ? 1 : la, nota ? la : 1, b, notb ? 1 : lb, notb ? lb : 1,
                           *beta, c, 1, *ldc);
}

}  // namespace

KERNELS_BLAS_API void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                             const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
                             const float* beta, float* c, const int* ldc, std::size_t, std::size_t) {
    fortran_gemm<float>("SGEMM ", transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

KERNELS_BLAS_API void dgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                             const double* alpha, const double* a, const int* lda, const double* b, const int* ldb,
                             const double* beta, double* c, const int* ldc, std::size_t, std::size_t) {
    fortran_gemm<double>("DGEMM ", transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
