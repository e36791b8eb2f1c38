// The ONNX runtime's QAdd (DQ(a) + DQ(b) -> Q, kernels/onnx/ops/qadd_pool.py) evaluated as
// onnxruntime's QLinearAdd x86 kernel (MLAS qladd_avx2.cpp) does, in float32 with FMAs:
//     out = saturate(round_half_even(fma(a, ra, fma(b, rb, k))))
// with ra = a_scale / c_scale, rb = b_scale / c_scale, k = c_zp - (ra * a_zp + rb * b_zp), which the
// caller computes (qadd_params). Bit-identical on every ISA: each helper performs the same two
// rounded FMAs and the same clamp-and-round as the portable loop.
#pragma once

#include <cstdint>

#include "../arch/ukernel.hpp"
#include "../core/common.hpp"

namespace kernels {

// out[i] for i in [0, n), the bytes read as int8 (is_signed) or uint8; nt threads split i. The
// helper is that of the best ISA <= the engine's cap (KERNELS_CPU_ISA) that this CPU runs.
// ra, rb, k must be finite with |ra|, |rb|, |k| < 2^96 (the caller checks): no sum can overflow.
void qadd(const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out, dim_t n, bool is_signed, float ra, float rb,
          float k, int nt);

// The ISA whose helper qadd runs under the current cap (generic: the portable loop).
Isa qadd_isa();

}  // namespace kernels
