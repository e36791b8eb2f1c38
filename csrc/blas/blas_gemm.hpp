// The one GEMM behind every BLAS/CBLAS entry point: netlib quick returns, the C caller's threads, the engine.
#pragma once

#include "../core/common.hpp"

namespace kernels::blas {

// C := alpha * op(A) op(B) + beta * C, op(A) m x k and op(B) k x n given by element strides.
// The arguments are already checked (netlib rules, in fortran_abi.cpp / cblas_abi.cpp). Quick
// return as the reference DGEMM: nothing when m == 0, n == 0, or (alpha == 0 or k == 0) and
// beta == 1; beta == 0 never reads C. `nthreads` 0: the library's count for this call.
template <typename T>
void gemm(dim_t m, dim_t n, dim_t k, T alpha, const T* a, inc_t rs_a, inc_t cs_a, const T* b, inc_t rs_b,
          inc_t cs_b, T beta, T* c, inc_t rs_c, inc_t cs_c, int nthreads = 0);

// Threads a call from this thread may use: 1 inside an OpenMP parallel region (the caller's
// threads already occupy the CPUs), else KERNELS_NUM_THREADS, else the OpenMP default
// (OMP_NUM_THREADS, else every CPU), at most the engine's bound.
int threads_for_call();

// Threads worth using for one m x n x k product (fewer for small ones).
template <typename T>
int useful_threads_for(dim_t m, dim_t n, dim_t k, int nthreads);

}  // namespace kernels::blas
