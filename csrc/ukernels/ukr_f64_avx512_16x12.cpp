// double micro-kernel for AVX512: 16x12 tile (2 vectors of 8 lanes x 12 broadcast columns).
#include "../ukernel.hpp"
#include "../packing.hpp"
#include "pack_avx512.hpp"
#include "simd_ukernel.hpp"
#include "vec_avx512.hpp"

namespace kernels {
extern const Ukernel<double> ukr_f64_avx512_16x12;
const Ukernel<double> ukr_f64_avx512_16x12 = {"ukr_f64_avx512_16x12", Isa::avx512, 16, 12, 0.79, &simd_ukr<Avx512F64, 2, 12>,
                                &pack_a<double, 16>, &pack_b_avx512<double, 12>,
                                &simd_ukr_direct<Avx512F64, 2, 12>,
                                &simd_ukr<Avx512F64, 1, 12, 16>, &simd_ukr_direct<Avx512F64, 1, 12>};
}  // namespace kernels
