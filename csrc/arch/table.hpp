// The table of built micro-kernels and the run-time choice among them.
#pragma once

#include <vector>

#include "ukernel.hpp"

namespace kernels {

// Every micro-kernel compiled into this build for T, best ISA first (runnable or not).
template <typename T>
const std::vector<const Ukernel<T>*>& built_ukernels();

// The micro-kernels of the best ISA <= cap that this CPU runs (generic always qualifies), in
// table order; the driver picks among them per problem shape.
template <typename T>
std::vector<const Ukernel<T>*> select_ukernels(Isa cap);

}  // namespace kernels
