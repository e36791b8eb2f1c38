// The one GEMM behind every BLAS/CBLAS entry point: environment, threads, quick returns, and a
// correct (if slow) answer even when the engine cannot get its packing workspace.
#include "blas_gemm.hpp"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>

#include "../arch/table.hpp"
#include "../core/engine.hpp"
#include "../core/threads.hpp"
#include "../gemm/gemm.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace kernels::blas {

namespace {

// The environment, read once on the first call (as `import hpc_kernels` reads it): KERNELS_NUM_THREADS
// (the library's own count) and KERNELS_CPU_ISA (a cap on the micro-kernels' ISA). OMP_NUM_THREADS
// is libgomp's own and needs nothing here. A bad value is ignored with a message, never fatal: a
// BLAS has no error channel, and the default is always a correct setting.
void init_from_environment() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (const char* s = std::getenv("KERNELS_NUM_THREADS"); s && *s) {
            char* end = nullptr;
            const long v = std::strtol(s, &end, 10);
            if (*end == '\0' && v >= 1)
                set_num_threads(static_cast<int>(std::min<long>(v, INT_MAX)));  // clamped to the bound there
            else
                std::fprintf(stderr, "libkernels_blas: ignoring KERNELS_NUM_THREADS=%s (expected a whole number >= 1)\n", s);
        }
        if (const char* s = std::getenv("KERNELS_CPU_ISA"); s && *s) {
            Isa isa;
            if (parse_isa(s, &isa))
                configure(isa, 0, 0, 0);
            else
                std::fprintf(stderr, "libkernels_blas: ignoring KERNELS_CPU_ISA=%s (known: %s)\n", s, isa_names().c_str());
        }
    });
}

// The unblocked product, for when the engine throws (its packing workspace could not be
// allocated). The engine allocates before it writes C (gemm/driver.hpp), so C is untouched then.
template <typename T>
void plain_gemm(dim_t m, dim_t n, dim_t k, T alpha, const T* a, inc_t rs_a, inc_t cs_a, const T* b, inc_t rs_b,
                inc_t cs_b, T beta, T* c, inc_t rs_c, inc_t cs_c) {
    for (dim_t j = 0; j < n; ++j)
        for (dim_t i = 0; i < m; ++i) {
            T acc = T(0);
            for (dim_t p = 0; p < k; ++p) acc += a[i * rs_a + p * cs_a] * b[p * rs_b + j * cs_b];
            T& cij = c[i * rs_c + j * cs_c];
            cij = beta == T(0) ? alpha * acc : alpha * acc + beta * cij;
        }
}

}  // namespace

int threads_for_call() {
    init_from_environment();
#ifdef _OPENMP
    if (omp_in_parallel()) return 1;
#endif
    return num_threads();
}

template <typename T>
int useful_threads_for(dim_t m, dim_t n, dim_t k, int nthreads) {
    return useful_threads(m, n, k, engine<T>(), nthreads);
}

template <typename T>
void gemm(dim_t m, dim_t n, dim_t k, T alpha, const T* a, inc_t rs_a, inc_t cs_a, const T* b, inc_t rs_b,
          inc_t cs_b, T beta, T* c, inc_t rs_c, inc_t cs_c, int nthreads) {
    if (m == 0 || n == 0 || ((alpha == T(0) || k == 0) && beta == T(1))) return;
    const int nt = nthreads > 0 ? nthreads : threads_for_call();
    GemmArgs<T> g{m, n, k, alpha, a, rs_a, cs_a, b, rs_b, cs_b, beta, c, rs_c, cs_c};
    try {
        kernels::gemm(g, engine<T>(), nt);
    } catch (const std::exception& e) {
        static std::atomic<bool> said{false};
        if (!said.exchange(true))
            std::fprintf(stderr, "libkernels_blas: %s; such calls are computed with the unblocked loop (said once)\n", e.what());
        plain_gemm(m, n, k, alpha, a, rs_a, cs_a, b, rs_b, cs_b, beta, c, rs_c, cs_c);
    }
}

template void gemm<float>(dim_t, dim_t, dim_t, float, const float*, inc_t, inc_t, const float*, inc_t, inc_t, float,
                          float*, inc_t, inc_t, int);
template void gemm<double>(dim_t, dim_t, dim_t, double, const double*, inc_t, inc_t, const double*, inc_t, inc_t,
                           double, double*, inc_t, inc_t, int);
template int useful_threads_for<float>(dim_t, dim_t, dim_t, int);
template int useful_threads_for<double>(dim_t, dim_t, dim_t, int);

}  // namespace kernels::blas
