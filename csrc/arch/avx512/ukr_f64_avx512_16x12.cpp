// double micro-kernel for AVX512: 16x12 tile (2 vectors of 8 lanes x 12 broadcast columns).
#include "avx512.hpp"
#include "../simd_ukernel_entry.hpp"
#include "pack.hpp"
#include "vec.hpp"

namespace kernels {
// Efficiency 0.79: fraction of the FMA peak on L1-resident panels (measured).
const Ukernel<double> ukr_f64_avx512_16x12 = simd_ukernel<Avx512F64, 2, 12>("ukr_f64_avx512_16x12", Isa::avx512, 0.79, &pack_b_avx512<double, 12>);
}  // namespace kernels
