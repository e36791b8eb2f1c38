// onnxruntime's QLinearAdd of one pair of 8-bit values, the scalar definition every QAdd path
// computes (ops/qadd.cpp's portable loop, the int8 epilogue's skip addition in
// arch/qtile_store.hpp; the AVX2/AVX-512 vectors do the same operations lane by lane).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace kernels {

// saturate(round_half_even(fma(a, ra, fma(b, rb, k)))) for the values a, b of two 8-bit elements
// (int8 when is_signed, else uint8). std::fma rounds once, as vfmadd does; std::nearbyint rounds
// half to even in the default mode; clamping before rounding equals clamping after it (integer
// bounds). ra, rb, k finite (quant_args.qadd_params checks them): u is never NaN.
inline std::int32_t qlinear_add(float a, float b, float ra, float rb, float k, bool is_signed) {
    const float lo = is_signed ? -128.0f : 0.0f, hi = is_signed ? 127.0f : 255.0f;
    const float u = std::min(std::max(std::fma(a, ra, std::fma(b, rb, k)), lo), hi);
    return static_cast<std::int32_t>(std::nearbyint(u));
}

}  // namespace kernels
