// QuantizeLinear with one scale and zero point (per tensor), float32 to uint8/int8: what the ONNX
// runtime's graph input of a QDQ model runs (kernels/onnx/ops/quantize.py; NumPy took 0.2 ms for a
// 224x224 image, a tenth of that here).
#pragma once

#include <cstdint>

#include "../core/common.hpp"

namespace kernels {

// out[i] = saturate(rint(x[i] / scale) + zp) for i < n (round half to even; the division, not a
// reciprocal's product, as ONNX and onnxruntime define it); NaN gives the type's minimum, as
// onnxruntime's MLAS kernel (its max/min clamp keeps the bound). scale finite and nonzero, zp in the
// type's range (the caller checks). Threads over contiguous chunks from nt.
void quantize_linear(const float* x, std::uint8_t* out, dim_t n, float scale, int zp, bool is_signed, int nt);

}  // namespace kernels
