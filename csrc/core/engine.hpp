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
    // Blocks for products whose C has both sides >= large_min_mn (gemm/gemm.cpp), from the
    // microarchitecture's row where blk is derived; large_min_mn 0: none.
    Blocking large{0, 0, 0};
    dim_t large_min_mn = 0;
};

// Where an engine's kernel choice and block sizes came from, for info(): "derived" (every kernel of
// the ISA cap, blocks from the cache model) or the label its configure call gave: "env" (the
// KERNELS_CPU_* variables), "tuned" (the tuning store), "configure", "configure_gemm".
struct Origin {
    std::string ukernel = "derived", mc = "derived", kc = "derived", nc = "derived";
};

template <typename T>
struct Engine {
    std::vector<Candidate<T>> cands;  // kernels of the chosen ISA, table order; never empty
    Origin origin;

    // The kernel that needs the least time for an m x n C (in kernel orientation): padded tile
    // area over the kernel's efficiency. A tall tile is faster per FMA but pads small m more
    // (its half-height and narrow edge kernels recover part of that).
    const Candidate<T>& pick(dim_t m, dim_t n) const {
        const Candidate<T>* best = &cands.front();
        double best_cost = -1.0;
        for (const Candidate<T>& c : cands) {
            const double cost = static_cast<double>(c.ukr->padded_rows(m)) *
                                static_cast<double>(c.ukr->padded_cols(n)) / c.efficiency;
            if (best_cost < 0.0 || cost < best_cost) best = &c, best_cost = cost;
        }
        return *best;
    }
};

// The current engine for T. Cheap: one atomic load; configure() swaps in a new immutable Engine.
template <typename T>
const Engine<T>& engine();

// Select the micro-kernels of the best ISA <= cap (or only the one named `ukernel`, when not
// empty) and set block sizes (0 = derive from the caches), for both dtypes (a tuned
// configure_dtype is replaced too). Throws std::invalid_argument for an unknown or unrunnable
// kernel name and for block sizes check_block_sizes refuses. `source` labels the overrides in
// Engine::origin.
void configure(Isa cap, dim_t mc, dim_t kc, dim_t nc, const std::string& ukernel = "",
               const std::string& source = "configure");
Isa isa_cap();

// Replace only T's engine, under the current ISA cap: every kernel of the cap (ukernel empty; the
// driver picks per shape) or only the kernel named `ukernel`, which must be a T kernel this CPU
// runs at or below the cap; blocks mc/kc/nc (0 = derived). The other dtype is untouched. Throws
// std::invalid_argument saying what is allowed. How the tuning store's entries are applied.
template <typename T>
void configure_dtype(const std::string& ukernel, dim_t mc, dim_t kc, dim_t nc, const std::string& source);

// Largest block size accepted (a typo or a unit mix-up must not size a multi-GiB workspace), and
// the largest packed A (MC x KC) and B (KC x NC) blocks, in bytes: far above any cache level.
constexpr dim_t kMaxBlockSize = dim_t{1} << 16;
constexpr dim_t kMaxPackedABytes = dim_t{64} << 20;
constexpr dim_t kMaxPackedBBytes = dim_t{1} << 30;

}  // namespace kernels
