// The active configuration of the cpu backend: chosen micro-kernel and block sizes per dtype.
#pragma once

#include "blocking.hpp"
#include "ukernel.hpp"

namespace kernels {

template <typename T>
struct Engine {
    const Ukernel<T>* ukr;
    Blocking blk;
};

// The current engine for T. Cheap: one atomic load; configure() swaps in a new immutable Engine.
template <typename T>
const Engine<T>& engine();

// Select micro-kernels with ISA <= cap and set block sizes (0 = derive from the caches).
void configure(Isa cap, dim_t mc, dim_t kc, dim_t nc);
Isa isa_cap();

}  // namespace kernels
