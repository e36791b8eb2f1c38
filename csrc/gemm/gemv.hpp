// Matrix-vector products (one column of C in kernel orientation): the blocked driver would pack the
// whole matrix for a single use of each element, so GEMV streams it once, unpacked.
#pragma once

#include "gemm.hpp"

namespace kernels {

// True when g (already in kernel orientation) is a GEMV this path runs: n == 1 and A has a unit
// stride along its rows (axpy form, e.g. x @ W with W stored (K, N)) or along k (dot form, e.g.
// x @ W.T with W stored (N, K), the classifier layout of ONNX Gemm with transB = 1).
template <typename T>
bool gemv_suits(const GemmArgs<T>& g);

// C[0:m, 0] := ep(beta * C + alpha * A x) with nt threads splitting the rows; beta == 0 never
// reads C. Needs k > 0 and alpha != 0 (gemm() handles those first).
template <typename T>
void gemv(const GemmArgs<T>& g, int nt);

// y[j] := sum_p A(j, p) x[p] for j in [0, rows), A(j, p) at a[j*lda + p] (unit stride along k), x
// contiguous: GEMV's dot form, for the few rows of C that run_direct (gemm.cpp) computes as dot
// products. Each y[j] is summed in the same order whatever `rows` is.
template <typename T>
void dot_products(dim_t rows, dim_t k, const T* a, inc_t lda, const T* x, T* y);

}  // namespace kernels
