// What arch/avx2/ registers in the ISA table (table.cpp). Declarations only, so portable code may
// include this; the definitions are compiled with the AVX2 flags and run only where the table's
// CPU check for AVX2 passed.
#pragma once

#include "../table.hpp"

namespace kernels {

extern const Ukernel<float> ukr_f32_avx2_16x6;
extern const Ukernel<double> ukr_f64_avx2_8x6;
extern const QUkernel ukr_s8_avx2_8x6;
extern const BUkernel ukr_bf16_avx2_16x6;

namespace avx2 {
double fma_peak(bool f64, double seconds);  // fma_peak_fn (table.hpp)
void qadd(const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out, dim_t n, bool is_signed, float ra, float rb,
          float k);  // qadd_fn (qadd.cpp)
}  // namespace avx2

}  // namespace kernels
