// Lowering of bf16 convolutions for the bf16 GEMM (kernels/backends/cpu/bf16.py): im2col on bf16
// bit patterns (uint16), and float32 -> bf16 rounding. Why C++: NumPy needed a padded copy, a
// strided view and a transposed copy per layer (a 3x3 layer's bf16 conv took twice its fp32 time),
// and ml_dtypes' astype rounds at ~0.7 ns per element.
#pragma once

#include <cstdint>

#include "../core/common.hpp"

namespace kernels {

struct Bf16LowerGeom {
    dim_t n, c, h, w;      // input (logical NCHW sizes)
    dim_t ho, wo;          // output
    dim_t r, s;            // kernel
    dim_t sh, sw, dh, dw;  // stride, dilation
    dim_t pt, pl;          // top and left padding (bottom/right follow from ho/wo)
};

// x C-contiguous in its layout. NHWC: cols (N*Ho*Wo, R*S*C), row (n, ho, wo), columns (r, s, c).
// NCHW: cols (N, C*R*S, Ho*Wo), rows (c, r, s). Taps outside the image are 0 (bf16 +0). One group.
void bf16_im2col(const std::uint16_t* x, std::uint16_t* cols, const Bf16LowerGeom& g, bool nhwc, int nt);

// out[i] = x[i] rounded to bf16 (nearest, ties to even; NaN stays a quiet NaN of its sign).
void round_to_bf16(const float* x, std::uint16_t* out, dim_t n, int nt);

}  // namespace kernels
