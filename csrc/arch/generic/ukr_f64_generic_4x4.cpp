// Portable double micro-kernel, 4x4 tile: built on every CPU, the oracle of the micro-kernel tests.
#include "generic.hpp"
#include "../ukernel.hpp"
#include "../../gemm/packing.hpp"
#include "generic_ukernel.hpp"

namespace kernels {
const Ukernel<double> ukr_f64_generic_4x4 = {"ukr_f64_generic_4x4", Isa::generic, 4, 4, 0.5, &generic_ukr<double, 4, 4>,
                                &pack_a<double, 4>, &pack_b<double, 4>, nullptr, nullptr, nullptr,
                                &generic_ukr_taps<double, 4, 4>, nullptr, nullptr, 0, nullptr};
}  // namespace kernels
