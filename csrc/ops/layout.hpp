// NCHW <-> NHWC copies of 4-D tensors (the ONNX runtime's ToNHWC/ToNCHW at a graph's edges).
#pragma once

#include "../core/common.hpp"

namespace kernels {

// dst (N, H, W, C), C-contiguous := src viewed as (N, C, H, W) at element strides (sn, sc, sh, sw)
// (to_nhwc), or dst (N, C, H, W), C-contiguous := src (N, H, W, C) at strides (sn, sh, sw, sc)
// (to_nchw, the strides still given in (n, c, h, w) order). nt threads split the (n, h) rows.
template <typename T>
void to_nhwc(const T* src, const inc_t (&s)[4], dim_t n, dim_t c, dim_t h, dim_t w, T* dst, int nt);
template <typename T>
void to_nchw(const T* src, const inc_t (&s)[4], dim_t n, dim_t c, dim_t h, dim_t w, T* dst, int nt);

}  // namespace kernels
