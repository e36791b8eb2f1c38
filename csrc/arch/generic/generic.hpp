// What arch/generic/ (portable C++, built for every CPU) registers in the ISA table (table.cpp).
#pragma once

#include "../bukernel.hpp"
#include "../qukernel.hpp"
#include "../table.hpp"

namespace kernels {

extern const Ukernel<float> ukr_f32_generic_8x4;
extern const Ukernel<double> ukr_f64_generic_4x4;
extern const QUkernel ukr_s8_generic_8x4;
extern const BUkernel ukr_bf16_generic_8x4;

}  // namespace kernels
