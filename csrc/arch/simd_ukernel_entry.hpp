// The Ukernel descriptor of a SIMD micro-kernel: its tile, packing, unpacked, batch-reduce (direct
// convolution), half-height and narrow variants,
// all instantiated in the including TU (compiled with that ISA's flags).
#pragma once

#include <algorithm>

#include "../gemm/packing.hpp"
#include "ukernel.hpp"
#include "simd_ukernel.hpp"

namespace kernels {
namespace {

// MR = MV vectors of V::W lanes, NR broadcast columns; `pack_b` may be an ISA-specific packer.
// The unpacked (direct) kernels need masked loads for short row blocks, so ISAs without lane
// masks get none and always pack.
template <class V, int MV, int NR>
constexpr Ukernel<typename V::T> simd_ukernel(const char* name, Isa isa, double efficiency,
                                              pack_b_fn<typename V::T> pack_b) {
    using T = typename V::T;
    constexpr int MR = MV * V::W;
    direct_fn<T> direct = nullptr, direct_half = nullptr, direct_short = nullptr;
    constexpr int kShort = MV - 1 > MV / 2 ? MV - 1 : 0;  // vectors of the short variant (ukernel.hpp)
    if constexpr (V::kMasked) {
        direct = &simd_ukr_direct<V, MV, NR>;
        direct_half = &simd_ukr_direct<V, MV / 2, NR>;
        if constexpr (kShort > 0) direct_short = &simd_ukr_direct<V, kShort, NR>;
    }
    // The narrow edge kernel: the fewest columns that still keep 8 FMA chains in flight (two FMA
    // pipes x 4 cycles of latency), so its columns run at about the full tile's rate.
    constexpr int kNarrow = std::min(NR - 1, (8 + MV - 1) / MV);
    return {name,       isa,    MR,     NR, efficiency, &simd_ukr<V, MV, NR>, &pack_a<T, MR>,
            pack_b,     direct, &simd_ukr<V, MV / 2, NR, MR>, direct_half,
            &simd_ukr_taps<V, MV, NR>, &simd_ukr_taps<V, MV / 2, NR, MR>, &simd_ukr<V, MV, kNarrow, MR, NR>, kNarrow,
            &simd_ukr_taps<V, MV, kNarrow, MR, NR>, direct_short, direct_short ? kShort * V::W : 0};
}

}  // namespace
}  // namespace kernels
