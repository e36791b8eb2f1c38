// double micro-kernel for AVX512: 32x6 tile (4 vectors of 8 lanes x 6 broadcast columns).
// Fewer broadcasts per FMA than the 2-vector tile (10 loads per 24 FMAs instead of 14): faster on
// large operands, but pads tall edges more, so the driver picks it only where that pays.
#include "../ukernel.hpp"
#include "../packing.hpp"
#include "pack_avx512.hpp"
#include "simd_ukernel.hpp"
#include "vec_avx512.hpp"

namespace kernels {
extern const Ukernel<double> ukr_f64_avx512_32x6;
const Ukernel<double> ukr_f64_avx512_32x6 = {"ukr_f64_avx512_32x6", Isa::avx512, 32, 6, 0.84, &simd_ukr<Avx512F64, 4, 6>,
                                &pack_a<double, 32>, &pack_b_avx512<double, 6>,
                                &simd_ukr_direct<Avx512F64, 4, 6>,
                                &simd_ukr<Avx512F64, 2, 6, 32>, &simd_ukr_direct<Avx512F64, 2, 6>};
}  // namespace kernels
