// Portable float micro-kernel, 8x4 tile: built on every CPU, the oracle of the micro-kernel tests.
#include "generic.hpp"
#include "../ukernel.hpp"
#include "../../gemm/packing.hpp"
#include "generic_ukernel.hpp"

namespace kernels {
const Ukernel<float> ukr_f32_generic_8x4 = {"ukr_f32_generic_8x4", Isa::generic, 8, 4, 0.5, &generic_ukr<float, 8, 4>,
                                &pack_a<float, 8>, &pack_b<float, 4>, nullptr, nullptr, nullptr,
                                &generic_ukr_taps<float, 8, 4>, nullptr, nullptr, 0, nullptr};
}  // namespace kernels
