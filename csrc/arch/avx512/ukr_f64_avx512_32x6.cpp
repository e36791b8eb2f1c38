// double micro-kernel for AVX512: 32x6 tile (4 vectors of 8 lanes x 6 broadcast columns).
// Fewer broadcasts per FMA than the 2-vector tile (10 loads per 24 FMAs instead of 14): faster on
// large operands, but pads tall edges more, so the driver picks it only where that pays.
#include "avx512.hpp"
#include "../simd_ukernel_entry.hpp"
#include "pack.hpp"
#include "vec.hpp"

namespace kernels {
// Efficiency 0.84: fraction of the FMA peak on L1-resident panels (measured).
const Ukernel<double> ukr_f64_avx512_32x6 = simd_ukernel<Avx512F64, 4, 6>("ukr_f64_avx512_32x6", Isa::avx512, 0.84, &pack_b_avx512<double, 6>);
}  // namespace kernels
