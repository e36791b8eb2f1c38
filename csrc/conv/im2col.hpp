// Explicit im2col: lower one image (one group's channels) into the matrix a GEMM convolves with.
#pragma once

#include "conv_pack.hpp"

namespace kernels {

// Channels-major order (NCHW): dst is (cn*R*S) x P row-major, row (c*R + r)*S + s, column ho*Wo + wo.
template <typename T>
void lower_nchw(const ImageView<T>& v, dim_t cn, T* dst, int nthreads);

// Channels-minor order (NHWC): dst is P x (R*S*cn) row-major, column (r*S + s)*cn + c.
template <typename T>
void lower_nhwc(const ImageView<T>& v, dim_t cn, T* dst, int nthreads);

}  // namespace kernels
