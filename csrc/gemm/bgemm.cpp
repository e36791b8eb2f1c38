// The bf16 GEMM: orientation, kernel choice, blocks and the five-loop driver with bf16 traits (bf16
// pairs or fp32-widened panels, fp32 partial sums between k blocks, the bf16 store's epilogue).
#include "bgemm.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "../arch/product_generation.hpp"
#include "../arch/table.hpp"
#include "../arch/uarch.hpp"
#include "../core/cpu_info.hpp"
#include "../core/engine.hpp"
#include "../core/workspace.hpp"
#include "driver.hpp"

namespace kernels {

namespace {

// E: the packed element, uint16_t (bf16 pairs or AMX k steps) or float (widened); KU: the kernel's
// kunit (arch/bukernel.hpp): k is packed in units of KU, the kernel counts its steps in them.
template <typename E, int KU>
struct BTraits {
    using PA = E;
    using PB = E;
    using Cand = BCandidate;
    using Tiles = BTiles;
    static constexpr int kUnit = KU;
    static dim_t kpad(dim_t kc) { return round_up(kc, kUnit); }
    static KERNELS_INLINE void tile(const BTiles& g, const BUkernel& u, dim_t kc, const E* a, const E* b, bool first_k,
                                    bool last_k, dim_t i, dim_t j, dim_t mr, dim_t nr) {
        u.kernel(kpad(kc) / kUnit, a, b, g, i, j, mr, nr, first_k, last_k);
    }
    static KERNELS_INLINE void tile_filling(const BTiles& g, const BUkernel& u, dim_t kc, const E* a, const E* b, bool first_k,
                                            bool last_k, dim_t i, dim_t j, dim_t mr, dim_t nr, const BPanelFill& f) {
        u.kernel_filling(kpad(kc) / kUnit, a, b, g, i, j, mr, nr, first_k, last_k, f);
    }
};

template <typename E>
struct StridedBfA {
    static constexpr bool prepacked = false;
    const std::uint16_t* a;
    inc_t rs, cs;
    void pack(const BUkernel& u, dim_t i0, dim_t mc, dim_t p0, dim_t kc, E* dst) const {
        u.pack_a(mc, kc, a + i0 * rs + p0 * cs, rs, cs, dst);
    }
};
template <typename E>
struct StridedBfB {
    static constexpr bool prepacked = false;
    const std::uint16_t* b;
    inc_t rs, cs;
    void pack(const BUkernel& u, dim_t j0, dim_t nc, dim_t p0, dim_t kc, E* dst) const {
        u.pack_b(kc, nc, b + p0 * rs + j0 * cs, rs, cs, dst);
    }
};

// B packed by the AMX kernel's tiles (driver.hpp: `fills`), panel by panel, in B in place's layout
// (each column's k values contiguous, BTiles::ld_b = the padded k): the packing of B, a copy at
// memory speed, then runs beside the tile unit's work. Needs rs 1 (a row-major A of the caller,
// or any B^T) and one k block (ld_b is one stride for the product). Why this layout and what the
// overlap gains (1024^3 on NumPy arrays, Emerald Rapids, 1 thread): docs/cpu-gemm.md.
struct FillingBfB {
    static constexpr bool prepacked = false;
    static constexpr bool fills = true;
    const std::uint16_t* b;
    inc_t cs;
    static bool fills_with(const BUkernel& u) { return u.kernel_filling != nullptr; }
    // Columns [c0, c1) of the panel of `width` columns starting at column j0, into `panel`.
    BPanelFill fill(const BUkernel&, std::uint16_t* panel, dim_t j0, dim_t width, dim_t c0, dim_t c1, dim_t p0,
                    dim_t kc) const {
        const dim_t real = std::clamp<dim_t>(width - c0, 0, c1 - c0);
        return {b + p0 + (j0 + c0) * cs, cs, c0, c1 - c0, real, kc, panel, round_up(kc, 32)};
    }
    // Whole panels packed ahead (the first of each thread's block).
    void pack(const BUkernel& u, dim_t j0, dim_t nc, dim_t p0, dim_t kc, std::uint16_t* dst) const {
        const dim_t kp = round_up(kc, 32);
        for (dim_t j = 0; j < nc; j += 32, dst += 32 * kp)
            u.fill(kp / 32, fill(u, dst, j0 + j, std::min<dim_t>(32, nc - j), 0, 32, p0, kc));
    }
};

// B read in place by the AMX kernel (BTiles::ld_b): the tile loads take B's columns as they lie,
// 16 columns of 32 k values per load at the column stride, so nothing is packed.
struct DirectBfB {
    static constexpr bool prepacked = true;
    const std::uint16_t* b;
    inc_t cs;
    const std::uint16_t* panel(dim_t first, dim_t p0) const { return b + first * cs + p0; }
    inc_t panel_stride() const { return 32 * cs; }
};

// B in place needs rows the tile loads can take whole: k in whole 32-deep steps (a load past k
// would read what lies beyond the column, NaN included), n in whole 32-column panels, each
// column's start on a cache line (a load of 64 bytes across two lines ran at 0.7x), and k
// contiguous. 1024^3 on Emerald Rapids, 1 thread: the packing of B was 8% of the time, and the
// tile loop itself ran 1.09x faster on B in place (its lines come from L2 as the packed ones do).
bool direct_b(const BGemmArgs& g, const BUkernel& u) {
    return u.kunit == 32 && g.rs_b == 1 && g.k % 32 == 0 && g.n % 32 == 0 &&
           reinterpret_cast<std::uintptr_t>(g.b) % 64 == 0 && (g.cs_b * 2) % 64 == 0;
}

// bf16 blocks: the x86 rule's cache shares with 2-byte elements (4 when widened: derive_blocking
// gets the packed size), for the kernel that widens to fp32 (AVX2); the pairs and AMX kernels
// take one k block up to 4096 (below).
constexpr BlockRule kBlocksBf16 = {/*kc_l1_div*/ 2, /*mc_l2_div*/ 4, /*nc_l3_div*/ 4, /*kc_min*/ 128,
                                   /*kc_max*/ 2048, /*mc_max*/ 1024, /*nc_min*/ 512, /*nc_max*/ 4096};

int useful_bthreads(dim_t m, dim_t n, dim_t k, const BUkernel& u, int nthreads) {
#ifndef _OPENMP
    (void)m, (void)n, (void)k, (void)u, (void)nthreads;
    return 1;
#else
    if (nthreads <= 1) return 1;
    // ~2x the float engine's work per thread (2e5 FMAs): a vdpbf16ps lane does 2 products.
    const double macs = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
    const double tiles = static_cast<double>(ceil_div(m, u.mr) * ceil_div(n, u.nr));
    const double cap = std::min(macs / 4.0e5, tiles);
    return cap < 2.0 ? 1 : static_cast<int>(std::min<double>(cap, nthreads));
#endif
}

// C := ep(beta * C) when A and B take no part (k == 0 or alpha == 0), rounded once.
void scale_only(const BGemmArgs& g) {
    const bool epi = g.ep.active();
    for (dim_t j = 0; j < g.n; ++j)
        for (dim_t i = 0; i < g.m; ++i) {
            const inc_t off = i * g.rs_c + j * g.cs_c;
            float v = 0.0f;
            if (g.beta != 0.0f)
                v = g.beta * (g.c_bf16 ? bf16_to_f32(static_cast<std::uint16_t*>(g.c)[off]) : static_cast<float*>(g.c)[off]);
            if (epi) v = g.ep.apply(v, i, j);
            if (g.c_bf16) static_cast<std::uint16_t*>(g.c)[off] = f32_to_bf16(v);
            else static_cast<float*>(g.c)[off] = v;
        }
}

template <typename E, int KU>
void run(const BTiles& t, const BGemmArgs& g, const BCandidate& cand, int nt) {
    if constexpr (KU == 32) {
        if (t.ld_b) return run_blocked_t<BTraits<E, KU>>(t, StridedBfA<E>{g.a, g.rs_a, g.cs_a}, DirectBfB{g.b, g.cs_b}, cand, nt);
        if (g.rs_b == 1 && cand.ukr->kernel_filling && g.k <= cand.blk.kc) {
            BTiles tf = t;
            tf.ld_b = round_up(g.k, 32);
            return run_blocked_t<BTraits<E, KU>>(tf, StridedBfA<E>{g.a, g.rs_a, g.cs_a}, FillingBfB{g.b, g.cs_b}, cand, nt);
        }
    }
    run_blocked_t<BTraits<E, KU>>(t, StridedBfA<E>{g.a, g.rs_a, g.cs_a}, StridedBfB<E>{g.b, g.rs_b, g.cs_b}, cand, nt);
}

}  // namespace

// AMX (kunit 32): KC up to 4096, MC a half of L2 for the product's KC (the A block with the B and C
// it meets). One k block is what made the tile kernel fast: with KC = 384 (the vector kernels' L1
// rule) every C tile went through fp32 partial sums in memory between blocks, and the 1024^3
// product ran at 0.82 TFLOP/s against 0.95 with KC = 1024 (2048^3: 1.02 against 1.35 with KC =
// 2048; 4096^3: 1.18 with KC = 4096 and MC = 128, 0.78 with MC = 256, whose A block fills L2).
// Measured on Emerald Rapids (2 MiB L2), 1 thread. Both panels then stream from L2 (a 32-deep k
// step loads 4 KiB for 4 TDPBF16PS).
constexpr dim_t kAmxKcMax = 4096;

// vdpbf16ps pairs (kunit 2): one k block up to 4096, MC 512 rows and NC up to 4096 columns, not
// the cache shares of kBlocksBf16 (KC 680, MC 192 on Zen 4). The kernel needs 176 bytes (a 32-lane
// A pair row and 12 B pairs) per 24 vdpbf16ps, 7 bytes a cycle, which L2 or L3 streams anyway;
// what the cache rule cost was the blocks themselves: each k block past the first stores and
// reloads every C tile as fp32 partial sums (4 bytes per element per block, 12 columns a tile
// in 12 pages), each jc block packs A again, each ic block streams the packed B again. Zen 4,
// 1 thread, one process alternating configurations (medians): 1024^3 11.0 -> 10.4 ms (KC 680 ->
// 1024), 2048^3 86.6 -> 81.1 (KC 2048) -> 78.3-79.3 (MC 384-1024), 4096^3 676 -> 628 (KC 4096) ->
// 617 (NC 4092; 641 with NC 1024): 96-97% of the vdpbf16ps peak; 2 threads 4096^3 357 -> 318 ms.
// The largest B block, 4096 x 4096 pairs, is 32 MiB: the size of such a product's operand.
constexpr dim_t kPairsKcMax = 4096, kPairsMc = 512, kPairsNc = 4096;

dim_t amx_mc(dim_t kc, dim_t mr) {
    const dim_t l2 = static_cast<dim_t>(cache_sizes().l2);
    return std::clamp<dim_t>(l2 / 2 / (kc * 2) / mr * mr, mr, 1024);
}

BCandidate bcandidate() {
    const BUkernel& u = select_bukernel(isa_cap());
    const dim_t es = u.kunit == 1 ? 4 : 2;
    Blocking blk = derive_blocking(u.mr, u.nr, es, cache_sizes(), kBlocksBf16);
    if (u.kunit == 32) blk.kc = kAmxKcMax, blk.mc = amx_mc(blk.kc, u.mr);
    if (u.kunit == 2) blk.kc = kPairsKcMax, blk.mc = kPairsMc / u.mr * u.mr, blk.nc = kPairsNc / u.nr * u.nr;
    const Engine<float>& e = engine<float>();
    const Blocking& f = e.cands.front().blk;
    if (e.origin.mc != "derived") blk.mc = std::max(u.mr, f.mc / u.mr * u.mr);
    if (e.origin.kc != "derived") blk.kc = f.kc;
    if (e.origin.nc != "derived") blk.nc = std::max(u.nr, f.nc / u.nr * u.nr);
    // Whole packing units in every block but the last (pairs; AMX: 32-deep k steps, whose padding
    // would otherwise cost work in every block).
    const dim_t ku = std::max(2, u.kunit);
    blk.kc = std::max<dim_t>(ku, round_up(blk.kc, ku));
    const bool whole_k = u.kunit == 32 && e.origin.mc == "derived" && e.origin.kc == "derived";
    return {&u, blk, host_uarch().grid_stream_weight, whole_k};
}

void bgemm(const BGemmArgs& in, const BCandidate& cand_in, int nthreads) {
    BGemmArgs g = in;
    BCandidate cand = cand_in;
    if (cand.whole_k && in.k > 0) {
        cand.blk.kc = std::min(cand.blk.kc, round_up(in.k, cand.ukr->kunit));
        cand.blk.mc = amx_mc(cand.blk.kc, cand.ukr->mr);
    }
    if (g.m <= 0 || g.n <= 0) return;
    if (g.k <= 0 || g.alpha == 0.0f) return scale_only(g);  // BLAS: A and B are not referenced
    // Unit-stride C along the kernels' i: for row-major C compute C^T = B^T A^T (no copy). A
    // single row or column of C (a depthwise group's output channel) instead puts its long side
    // along i, whatever the strides: i is what the kernels vectorise (MR = 32 lanes, NR = 12).
    const bool swap = g.m == 1 ? g.n > 1 : g.n != 1 && std::llabs(g.cs_c) < std::llabs(g.rs_c);
    if (swap) {
        std::swap(g.m, g.n);
        std::swap(g.a, g.b);
        const inc_t ra = g.rs_a, ca = g.cs_a;
        g.rs_a = g.cs_b, g.cs_a = g.rs_b;
        g.rs_b = ca, g.cs_b = ra;
        std::swap(g.rs_c, g.cs_c);
        g.ep = g.ep.transposed();
    }
    const BUkernel& u = *cand.ukr;
    BTiles t{g.m, g.n, g.k, g.alpha, g.beta, g.c, g.rs_c, g.cs_c, g.c_bf16, nullptr, 0, g.ep};
    if (direct_b(g, u)) t.ld_b = g.cs_b;
    const int nt = useful_bthreads(g.m, g.n, g.k, u, nthreads);
    // (as if M were split over the threads: a thread with more panels fetches a part twice)
    t.a_panels = ceil_div(std::min(cand.blk.mc, ceil_div(g.m, nt)), u.mr);
    if (g.k > cand.blk.kc) {  // several k blocks: fp32 partial sums between them
        // AMX keeps them as whole MR x NR tiles, tile by tile (ld_p: tiles along i; the kernel's file
        // says why), the other kernels in C's layout.
        const bool tiled = u.kunit == 32;
        const dim_t rows = tiled ? round_up(g.m, u.mr) : g.m, cols = tiled ? round_up(g.n, u.nr) : g.n;
        t.part = static_cast<float*>(workspace(static_cast<std::size_t>(rows * cols) * sizeof(float), Slot::reorder));
        t.ld_p = tiled ? rows / u.mr : g.m;
    }
    begin_product();  // AMX: the tile configuration is reloaded once per product (arch/product_generation.hpp)
    if (u.kunit == 32) run<std::uint16_t, 32>(t, g, cand, nt);
    else if (u.kunit == 2) run<std::uint16_t, 2>(t, g, cand, nt);
    else run<float, 1>(t, g, cand, nt);
}

}  // namespace kernels
