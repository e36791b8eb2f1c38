// The active configuration of the cpu backend: candidate micro-kernels and their block sizes per dtype.
#pragma once

#include <string>
#include <vector>

#include "blocking.hpp"
#include "../arch/ukernel.hpp"

namespace kernels {

template <typename T>
struct Candidate {
    const Ukernel<T>* ukr;
    Blocking blk;
    double efficiency;       // the kernel's on this microarchitecture (arch/uarch.cpp), for pick()
    int grid_stream_weight;  // choose_grid's weight of a streamed element (driver.hpp), per microarchitecture
};

template <typename T>
struct Engine {
    std::vector<Candidate<T>> cands;  // kernels of the chosen ISA, table order; never empty

    // The kernel that needs the least time for an m x n C (in kernel orientation): padded tile
    // area over the kernel's efficiency. A tall tile is faster per FMA but pads small m more
    // (its half-height edge kernel recovers part of that).
    const Candidate<T>& pick(dim_t m, dim_t n) const {
        const Candidate<T>* best = &cands.front();
        double best_cost = -1.0;
        for (const Candidate<T>& c : cands) {
            const double cost = static_cast<double>(c.ukr->padded_rows(m)) *
                                static_cast<double>(round_up(n, c.ukr->nr)) / c.efficiency;
            if (best_cost < 0.0 || cost < best_cost) best = &c, best_cost = cost;
        }
        return *best;
    }
};

// The current engine for T. Cheap: one atomic load; configure() swaps in a new immutable Engine.
template <typename T>
const Engine<T>& engine();

// Select the micro-kernels of the best ISA <= cap (or only the one named `ukernel`, when not
// empty) and set block sizes (0 = derive from the caches). Throws std::invalid_argument for an
// unknown or unrunnable kernel name.
void configure(Isa cap, dim_t mc, dim_t kc, dim_t nc, const std::string& ukernel = "");
Isa isa_cap();

}  // namespace kernels
