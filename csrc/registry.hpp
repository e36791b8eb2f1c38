// The table of built micro-kernels and the run-time choice among them.
#pragma once

#include <vector>

#include "ukernel.hpp"

namespace kernels {

// Every micro-kernel compiled into this build for T, best ISA first (runnable or not).
template <typename T>
const std::vector<const Ukernel<T>*>& built_ukernels();

// The best micro-kernel whose ISA is <= cap and that this CPU can run (generic always qualifies).
template <typename T>
const Ukernel<T>& select_ukernel(Isa cap);

}  // namespace kernels
