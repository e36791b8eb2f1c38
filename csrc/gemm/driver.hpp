// The five-loop blocked driver (BLIS structure) shared by GEMM and convolution, generic over where
// the A and B micro-panels come from: packed from strided matrices (GEMM, im2col), gathered from
// an image while packing (implicit convGemm), or packed once ahead of time (Conv2d weights).
//
// Loops: jc (NC) -> pc (KC, B block) -> ic (MC, A block) -> jr (NR) -> ir (MR).
// Parallelism: threads form a tm x tn grid over the ic (M) and jr (N) loops. All threads pack the
// shared KC x NC block of B together, then each packs its own MC x KC block of A (A blocks are
// private to a core's L2) and runs its tiles. Two barriers per (jc, pc) iteration; none when only
// N is split, where each thread packs the B panels it uses into a region of its own, and none when
// B is prepacked; one at the end (core/team_barrier.hpp: spin, then yield, never sleep).
//
// Element types (the traits parameter Tr of run_blocked_t): Tr::PA / Tr::PB are the packed A and
// B elements, Tr::Tiles the C side (output type, accumulator, epilogue), Tr::Cand the chosen
// kernel and blocks, Tr::kpad(kc) the packed length of kc k steps (int8 packs k in quads), and
// Tr::tile runs one micro-tile. FloatTraits<T> is the float/double GEMM (everything T), run by
// run_blocked exactly as before; the int8 engine (gemm/qgemm.cpp) brings its own.
//
// Operand sources (duck-typed, resolved at compile time so the GEMM path pays nothing):
//   static constexpr bool prepacked;
//   prepacked:  const T* panel(dim_t first_row_or_col, dim_t p0) const, inc_t panel_stride() const
//               (panels of MR rows / NR columns, k-major: k step stride MR / NR, as packed)
//   otherwise:  void pack(const Ukernel<T>& u, dim_t i0, dim_t count, dim_t p0, dim_t kc, T* dst) const
//               (rows [i0, i0+count) of A or columns of B, k range [p0, p0+kc), into micro-panels)
//   a B source may also declare `static constexpr bool fills = true` (bf16 AMX, gemm/bgemm.cpp):
//               then, where a thread packs its own B panels (N split or one thread), only its first
//               panel is packed ahead; the tiles of the first A block copy the next panel, each its
//               share (Tr::tile_filling with B.fill(u, panel, first_col, width, c0, c1, p0, kc)),
//               so that the copy overlaps the micro-kernel's work instead of preceding it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "../arch/product_generation.hpp"
#include "../core/engine.hpp"
#include "../core/epilogue.hpp"
#include "../core/schedule.hpp"
#include "../core/team_barrier.hpp"
#include "../core/workspace.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace kernels {

// The C side of a blocked product in kernel orientation (the micro-kernels vectorise along i).
template <typename T>
struct Tiles {
    dim_t m, n, k;
    T alpha, beta;
    T* c;
    inc_t rs_c, cs_c;
    Epilogue<T> ep;  // applied on the last k block; inactive for plain GEMM
};

// A and B read through strides: element (i, p) of A at a[i*rs + p*cs], (p, j) of B at b[p*rs + j*cs].
template <typename T>
struct StridedA {
    static constexpr bool prepacked = false;
    const T* a;
    inc_t rs, cs;
    void pack(const Ukernel<T>& u, dim_t i0, dim_t mc, dim_t p0, dim_t kc, T* dst) const {
        u.pack_a(mc, kc, a + i0 * rs + p0 * cs, rs, cs, dst);
    }
};
template <typename T>
struct StridedB {
    static constexpr bool prepacked = false;
    const T* b;
    inc_t rs, cs;
    void pack(const Ukernel<T>& u, dim_t j0, dim_t nc, dim_t p0, dim_t kc, T* dst) const {
        u.pack_b(kc, nc, b + p0 * rs + j0 * cs, rs, cs, dst);
    }
};

// An operand packed whole (all k) into micro-panels of width w: panel q covers rows/columns
// [q*w, q*w + w) and holds k steps of w elements.
template <typename T>
struct PrepackedPanels {
    static constexpr bool prepacked = true;
    const T* base;
    dim_t w, k;
    const T* panel(dim_t first, dim_t p0) const { return base + (first / w) * w * k + p0 * w; }
    inc_t panel_stride() const { return w * k; }
};

// Whether a B source packs its panels inside the tiles (see the top of the file).
template <class S, class = void>
struct FillsPanels : std::false_type {};
template <class S>
struct FillsPanels<S, std::void_t<decltype(S::fills)>> : std::bool_constant<S::fills> {};

struct Grid {
    int tm, tn;
};

// [lo, hi) of `count` items for part `i` of `parts`, as even as possible.
inline void split(dim_t count, int parts, int i, dim_t* lo, dim_t* hi) {
    *lo = count * i / parts;
    *hi = count * (i + 1) / parts;
}

// body(part, parts) for every part of an OpenMP team of `nt` threads, or body(0, 1) when nt <= 1
// or without OpenMP: the split of independent parts that needs no barrier (each part finds its
// range with split()). A smaller team than asked (OMP_THREAD_LIMIT, nesting) gets fewer parts.
template <class Body>
void run_parts(int nt, const Body& body) {
#ifdef _OPENMP
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        body(omp_get_thread_num(), omp_get_num_threads());
        return;
    }
#endif
    (void)nt;
    body(0, 1);
}

// Rows of C that the busiest of tm threads computes when the ceil(m/mr) row panels are split as
// split() splits them; with half_rows a last panel of <= mr/2 rows costs mr/2 (half-height kernel).
inline dim_t busiest_rows(dim_t m, dim_t mr, int tm, bool half_rows) {
    const dim_t panels = ceil_div(m, mr), rem = m % mr;
    const dim_t last = rem == 0 || !half_rows || rem > mr / 2 ? mr : mr / 2;
    dim_t most = 0;
    for (int i = 0; i < tm; ++i) {
        dim_t lo, hi;
        split(panels, tm, i, &lo, &hi);
        const dim_t rows = (hi - lo) * mr - (hi == panels && hi > lo ? mr - last : 0);
        most = std::max(most, rows);
    }
    return most;
}

// Factor nt = tm * tn to minimise each thread's work per k step: its FMA lanes (tiles x MR x NR)
// plus what it streams, weighted: its share of A rows and of the packed B columns (splitting M
// makes every thread read the whole B block, splitting N the whole A block). A streamed element
// costs about 4 FMA lanes (an L2/L3 line shared by 8-16 elements vs 32 lanes per cycle); the
// term matters only for short, wide C such as 49 x 512, where splitting N avoids sharing B.
// The weight comes from the microarchitecture table (arch/uarch.cpp; 4 measured on Sapphire Rapids).
// half_rows: the kernel has a half-height variant, so a last row panel of <= mr/2 rows costs
// half a panel (the direct convolution's 96-channel layers: a 64-row and a 32-row panel, which
// split over 2 threads left one thread a third of the work; the pixels split evenly instead).
// a_packs_n_split: how many times each thread packs the whole A block when only N is split (the
// dynamic schedule's column units each pack it again: column_unit_panels); 1 for the static split.
inline Grid choose_grid(int nt, dim_t m, dim_t nc, dim_t mr, dim_t nr, dim_t kStreamWeight, bool half_rows = false,
                        dim_t a_packs_n_split = 1) {
    Grid best{nt, 1};
    dim_t best_cost = -1;
    for (int tm = nt; tm >= 1; --tm) {
        if (nt % tm) continue;
        const int tn = nt / tm;
        const dim_t lanes = busiest_rows(m, mr, tm, half_rows) * ceil_div(ceil_div(nc, nr), tn) * nr;
        const dim_t a_rows = tm == 1 ? a_packs_n_split * m : ceil_div(m, tm);
        const dim_t cost = lanes + kStreamWeight * (a_rows + ceil_div(nc, tn));
        if (best_cost < 0 || cost < best_cost) best = {tm, tn}, best_cost = cost;
    }
    return best;
}

// Panels of the column units the dynamic schedule hands out when only N is split: at least
// 8 panels (32 where the block has at most 64), about four units per thread, at most a thread's
// share. Each unit packs the whole A block again for its columns. Measured at 2 threads on Zen 4
// (one process, static and dynamic alternating, 30 calls each; ResNet-50's im2col GEMMs at 14x14
// and 28x28, user shapes m x n x k): where the split dimension has at most 64 panels (256 x 196 x
// 2304, 256 x 196 x 1024), 8-panel chunks ran 20-30% slower than the static split (1.52 against
// 1.21 ms, 0.67 / 0.54) and a chunk per thread as fast (1.18, 0.53); with more panels (1024 x 196
// x 256, 1024 x 196 x 512) 8-panel chunks ran even (0.54 / 0.51, 1.08 / 1.07) and 32-panel ones
// 20-25% slower (0.63, 1.27). Not explained here; kept as measured.
inline dim_t column_unit_panels(dim_t block_panels, int nt) {
    const dim_t own_panels = ceil_div(block_panels, nt);
    const dim_t min_unit_panels = block_panels <= 64 ? 32 : 8;
    return std::min(own_panels, std::max(min_unit_panels, ceil_div(block_panels, 4 * nt)));
}

// The row units the dynamic schedule hands out when only M is split: each thread's share of the
// static split (its MR-row panels) cut into at least three nearly equal runs, none over MC rows;
// unit u is run u % per of thread u / per's share (StealRanges gives thread t units [t*per, (t+1)*per)
// first). Why cut the shares rather than the rows: cut from row 0 in equal units (m = 1024, 192-row
// units at 2 threads), the units' split gave one thread 576 rows and the other 448, and the slower
// of the two set the time.
struct RowUnits {
    RowUnits(dim_t m, dim_t mr, dim_t mc, int nt)
        : m_(m), mr_(mr), panels_(ceil_div(m, mr)), nt_(nt),
          per_(std::max<dim_t>(3, ceil_div(ceil_div(panels_, nt) * mr, mc))) {}
    dim_t count() const { return per_ * nt_; }
    // Rows [r0, r1) of unit `unit` (< count(); empty where a share has fewer panels than units).
    void range(dim_t unit, dim_t* r0, dim_t* r1) const {
        dim_t q0, q1, s0, s1;
        split(panels_, nt_, static_cast<int>(unit / per_), &q0, &q1);
        split(q1 - q0, static_cast<int>(per_), static_cast<int>(unit % per_), &s0, &s1);
        *r0 = (q0 + s0) * mr_, *r1 = std::min(m_, (q0 + s1) * mr_);
    }

private:
    dim_t m_, mr_, panels_;
    int nt_;
    dim_t per_;
};

// Bytes a micro-kernel may read past the last packed A panel of a block (or of prepacked weights):
// the int8 AMX kernel rounds a k tail up to its whole 16-quad step where the activation rows hold
// zeros there (arch/qukernel.hpp, k_granule), reading up to 15 quads x 32 channels x 4 bytes of
// weights past the panel. Allocated, never written: what is there meets zero activations.
constexpr std::size_t kPackedReadSlack = 2048;

// Block sizes, thread grid and packing-buffer layout of one blocked product.
struct BlockPlan {
    dim_t MR, NR, MC, KC, NC;
    Grid grid;
    bool shared_b;          // M split: one B block packed by all threads
    dim_t own_b_elems;      // N split: elements of each thread's private B region
    std::size_t b_bytes;    // packed B (0 when prepacked)
    std::size_t a_bytes;    // one thread's packed A block and kPackedReadSlack (0 when prepacked)
    std::size_t total_bytes(int nt) const { return b_bytes + a_bytes * static_cast<std::size_t>(nt); }
};

// PA, PB: the packed A and B elements (the float engine: T both; int8: 1 byte); KU: the unit k is
// packed in (int8: quads), so a block of KC steps takes round_up(KC, KU) packed steps.
template <typename PA, typename PB, int KU = 1, class Cand>
BlockPlan plan_blocks_t(dim_t m, dim_t n, dim_t k, const Cand& cand, int nt, bool a_prepacked, bool b_prepacked) {
    const auto& u = *cand.ukr;
    BlockPlan p{};
    p.MR = u.mr, p.NR = u.nr;
    p.KC = std::min(cand.blk.kc, k);
    // NC balanced over the jc blocks n needs: n = 1024 with NC = 768 runs two blocks of 516 and
    // 508, not 768 and a thin 256 (whose B block is packed and streamed for a quarter of the work).
    const dim_t jc_blocks = ceil_div(n, std::max<dim_t>(cand.blk.nc, 1));
    p.NC = std::min(round_up(ceil_div(n, jc_blocks), p.NR), round_up(n, p.NR));
    p.MC = std::min(cand.blk.mc, round_up(m, p.MR));
    // Under the dynamic schedule a column split packs A once per column unit (the driver's dyn_cols):
    // with m = n = k = 1024 at 2 threads the bf16 pairs kernel (MR 32, NR 12) tied on FMA lanes and
    // the stream term took the column split, whose four units per thread packed the whole 1024 x
    // 1024 A four times (9% of each thread's time); the row split packs each A row once.
    const dim_t block_panels = ceil_div(p.NC, p.NR);
    const dim_t a_packs = !a_prepacked && nt > 1 && schedule() == Schedule::Dynamic
                              ? ceil_div(ceil_div(block_panels, nt), column_unit_panels(block_panels, nt))
                              : 1;
    p.grid = choose_grid(nt, m, p.NC, p.MR, p.NR, cand.grid_stream_weight, false, a_packs);
    // With M split (tm > 1) the B block is shared: all threads pack it together, between
    // barriers. With only N split each thread packs just the panels it uses into a region of its
    // own, and never waits for another (packing, memory bound, overlaps the other's FMAs).
    p.shared_b = p.grid.tm > 1;
    const dim_t own_panels = ceil_div(ceil_div(p.NC, p.NR), p.grid.tn);  // most panels a thread owns
    const dim_t kcp = round_up(p.KC, KU);
    p.own_b_elems = round_up(own_panels * p.NR * kcp, static_cast<dim_t>(kAlign / sizeof(PB)));
    const std::size_t b_elems = static_cast<std::size_t>(p.shared_b ? kcp * p.NC : p.own_b_elems * nt);
    p.b_bytes = b_prepacked ? 0 : round_up(b_elems * sizeof(PB), kAlign);
    p.a_bytes = a_prepacked ? 0 : round_up(static_cast<std::size_t>(kcp * p.MC) * sizeof(PA) + kPackedReadSlack, kAlign);
    return p;
}

template <typename T>
BlockPlan plan_blocks(dim_t m, dim_t n, dim_t k, const Candidate<T>& cand, int nt, bool a_prepacked,
                      bool b_prepacked) {
    return plan_blocks_t<T, T>(m, n, k, cand, nt, a_prepacked, b_prepacked);
}

// The float/double GEMM's element types and micro-tile: beta on the first k block, the epilogue
// on the last, the half-height and narrow kernels for short remainders.
template <typename T>
struct FloatTraits {
    using PA = T;
    using PB = T;
    using Cand = Candidate<T>;
    using Tiles = kernels::Tiles<T>;
    static constexpr int kUnit = 1;
    static constexpr dim_t kpad(dim_t kc) { return kc; }
    static KERNELS_INLINE void tile(const Tiles& g, const Ukernel<T>& u, dim_t kc, const T* a, const T* b,
                                    bool first_k, bool last_k, dim_t i, dim_t j, dim_t mr, dim_t nr) {
        // Only the first k block applies the caller's beta; later ones accumulate, and only the
        // last one runs the epilogue.
        const T beta = first_k ? g.beta : T(1);
        // A short last column panel takes the narrow kernel (full height: at a corner tile it does
        // fewer FMAs than the half-height kernel's full width).
        const auto kern = nr <= u.narrow_nr && u.kernel_narrow ? u.kernel_narrow
                          : mr <= u.mr / 2 && u.kernel_half    ? u.kernel_half
                                                               : u.kernel;
        Epilogue<T> et;
        const Epilogue<T>* ep = nullptr;
        if (last_k && g.ep.active()) et = g.ep.at(i, j), ep = &et;
        kern(kc, g.alpha, a, b, beta, g.c + j * g.cs_c + i * g.rs_c, g.rs_c, g.cs_c, mr, nr, ep);
    }
};

template <class Tr, class ASrc, class BSrc>
void run_blocked_t(const typename Tr::Tiles& g, const ASrc& A, const BSrc& B, const typename Tr::Cand& cand, int nt) {
    using PA = typename Tr::PA;
    using PB = typename Tr::PB;
    // Barriers only inside our own team: a serial call may run inside an enclosing parallel
    // region (batched matmul), where an orphaned barrier would bind to that outer team.
    const bool team = nt > 1;
    const auto& u = *cand.ukr;
    const BlockPlan P = plan_blocks_t<PA, PB, Tr::kUnit>(g.m, g.n, g.k, cand, nt, ASrc::prepacked, BSrc::prepacked);
    const dim_t MR = P.MR, NR = P.NR, MC = P.MC, KC = P.KC, NC = P.NC;
    const Grid grid = P.grid;
    const bool shared_b = P.shared_b;
    const bool b_barriers = team && shared_b && !BSrc::prepacked;
    char* ws = static_cast<char*>(workspace(P.total_bytes(nt)));
    PB* const bufb = reinterpret_cast<PB*>(ws);
    // Our own barrier, not `omp barrier`: libgomp's sleeps after GOMP_SPINCOUNT spins, which
    // hpc_kernels keeps short for idle teams (core/team_barrier.hpp says what that cost here).
    TeamBarrier barrier(nt);

    // Work shared by the team (core/schedule.hpp): with the dynamic schedule and a grid that splits
    // only N, the units are chunks of each jc block's B panels, each run through all of K by the
    // thread that takes it (it packs their B into its own region); with one that splits only M,
    // chunks of rows, taken afresh in every (jc, pc) block after the shared B block is packed (or,
    // with B prepacked, run through all of N and K). Mixed grids (4+ threads) keep the static split.
    const bool dynamic = team && schedule() == Schedule::Dynamic;
    const bool dyn_cols = dynamic && grid.tm == 1;
    const bool dyn_rows = dynamic && grid.tn == 1 && !dyn_cols;
    // Column chunks: column_unit_panels (never more panels than the planned B region holds).
    const dim_t block_panels = ceil_div(NC, NR);
    const dim_t unit_panels = column_unit_panels(block_panels, nt);
    const dim_t units_per_block = ceil_div(block_panels, unit_panels);
    const RowUnits unit_rows(g.m, MR, MC, nt);
    WorkCounter counters[2];  // dyn_cols, and dyn_rows with B prepacked: [0]
    // dyn_rows over a shared B block: the row units of one (jc, pc) block, owned ranges with
    // stealing (core/schedule.hpp); one set per block, alternating.
    const dim_t row_units = unit_rows.count();
    const bool steal = dyn_rows && b_barriers && row_units < (dim_t{1} << 31);  // (else the static split)
    StealRanges ranges[2];
    if (steal) ranges[0].reset(row_units, nt), ranges[1].reset(row_units, nt);

    // Rows [r0, r1) (MC at a time) times panels [np0, np1) of the jc block at jc, k block pc.
    // Panel p is at packed_b + (p - first) * b_stride; `filling`: B's panels after np0's are
    // packed by the first A block's tiles (FillsPanels), each tile its share of the next panel.
    auto rows_times_panels = [&](PA* bufa, dim_t r0, dim_t r1, dim_t jc, dim_t nc, dim_t np0, dim_t np1, dim_t first,
                                 const PB* packed_b, inc_t b_stride, PB* own_b, bool filling, dim_t pc, dim_t kc) {
        const dim_t kp = Tr::kpad(kc);
        const bool first_k = pc == 0, last_k = pc + kc == g.k;
        for (dim_t ic = r0; ic < r1; ic += MC) {
            const dim_t mc = std::min(MC, r1 - ic);
            const PA* packed_a;
            inc_t a_stride;
            if constexpr (ASrc::prepacked) {
                packed_a = A.panel(ic, pc);
                a_stride = A.panel_stride();
            } else {
                A.pack(u, ic, mc, pc, kc, bufa);
                packed_a = bufa;
                a_stride = MR * kp;
            }
            for (dim_t jp = np0; jp < np1; ++jp) {
                const dim_t jr = jp * NR;
                const dim_t nr = std::min(NR, nc - jr);
                const PB* bp = packed_b + (jp - first) * b_stride;
                for (dim_t ir = 0; ir < mc; ir += MR) {
                    const dim_t mr = std::min(MR, mc - ir);
                    if constexpr (FillsPanels<BSrc>::value) {
                        if (filling && ic == r0 && jp + 1 < np1) {  // this tile's share of panel jp + 1
                            dim_t c0, c1;
                            split(NR, static_cast<int>(ceil_div(mc, MR)), static_cast<int>(ir / MR), &c0, &c1);
                            const dim_t jn = jr + NR;
                            const auto share = B.fill(u, own_b + (jp + 1 - first) * b_stride, jc + jn,
                                                      std::min(NR, nc - jn), c0, c1, pc, kc);
                            Tr::tile_filling(g, u, kc, packed_a + (ir / MR) * a_stride, bp, first_k, last_k, ic + ir,
                                             jc + jr, mr, nr, share);
                            continue;
                        }
                    }
                    (void)own_b, (void)filling;
                    Tr::tile(g, u, kc, packed_a + (ir / MR) * a_stride, bp, first_k, last_k, ic + ir, jc + jr, mr, nr);
                }
            }
        }
    };

    // B's panels [bp0, bp1) of the jc block at jc, k block pc, packed at own_b as panel `first`
    // onwards (filling: only bp0; the tiles pack the rest); or where the prepacked B has them.
    // Returns the block's first panel's address and the panel stride.
    auto b_panels = [&](dim_t jc, dim_t nc, dim_t np0, dim_t bp0, dim_t bp1, dim_t first, PB* own_b, bool filling,
                        dim_t pc, dim_t kc) -> std::pair<const PB*, inc_t> {
        if constexpr (BSrc::prepacked) {
            (void)nc, (void)bp0, (void)bp1, (void)own_b, (void)filling, (void)kc;
            return {B.panel(jc + np0 * NR, pc) - (np0 - first) * B.panel_stride(), B.panel_stride()};
        } else {
            (void)np0;
            const dim_t kp = Tr::kpad(kc);
            if (bp1 > bp0) {
                const dim_t j0 = bp0 * NR, j1 = std::min(nc, (filling ? bp0 + 1 : bp1) * NR);
                B.pack(u, jc + j0, j1 - j0, pc, kc, own_b + (bp0 - first) * NR * kp);
            }
            return {own_b, NR * kp};
        }
    };

    // Whether the tiles of panels [np0, np1) pack B's panels after the first themselves.
    auto fills = [&](dim_t r0, dim_t r1) {
        if constexpr (FillsPanels<BSrc>::value) return !shared_b && B.fills_with(u) && r1 > r0;
        (void)r0, (void)r1;
        return false;
    };

    auto body = [&](int tid) {
        bool sense = false;  // this thread's barrier sense
        PA* const bufa = reinterpret_cast<PA*>(ws + P.b_bytes + P.a_bytes * tid);
        PB* const own_b = shared_b ? bufb : bufb + P.own_b_elems * tid;

        if (dyn_cols) {  // chunks of B panels, each through all of K (no barriers: B is per thread)
            const dim_t units = ceil_div(g.n, NC) * units_per_block;
            for (dim_t unit = counters[0].next(); unit < units; unit = counters[0].next()) {
                const dim_t jc = unit / units_per_block * NC, nc = std::min(NC, g.n - jc);
                const dim_t np0 = unit % units_per_block * unit_panels, np1 = std::min(np0 + unit_panels, ceil_div(nc, NR));
                if (np0 >= np1) continue;  // (the last jc block has fewer panels)
                const bool filling = fills(0, g.m);
                for (dim_t pc = 0; pc < g.k; pc += KC) {
                    const dim_t kc = std::min(KC, g.k - pc);
                    const auto [pb, bs] = b_panels(jc, nc, np0, np0, np1, np0, own_b, filling, pc, kc);
                    rows_times_panels(bufa, 0, g.m, jc, nc, np0, np1, np0, pb, bs, own_b, filling, pc, kc);
                }
            }
        } else if (dyn_rows && !b_barriers) {  // B prepacked: chunks of rows, each through all of N and K
            for (dim_t unit = counters[0].next(); unit < row_units; unit = counters[0].next()) {
                dim_t r0, r1;
                unit_rows.range(unit, &r0, &r1);
                for (dim_t jc = 0; jc < g.n; jc += NC) {
                    const dim_t nc = std::min(NC, g.n - jc), n_panels = ceil_div(nc, NR);
                    for (dim_t pc = 0; pc < g.k; pc += KC) {
                        const dim_t kc = std::min(KC, g.k - pc);
                        const auto [pb, bs] = b_panels(jc, nc, 0, 0, 0, 0, own_b, false, pc, kc);
                        rows_times_panels(bufa, r0, r1, jc, nc, 0, n_panels, 0, pb, bs, own_b, false, pc, kc);
                    }
                }
            }
        } else {  // the static split, or (steal) row units over a shared B block packed between barriers
            const int ti = tid % grid.tm, tj = tid / grid.tm;
            dim_t mp0, mp1;
            split(ceil_div(g.m, MR), grid.tm, ti, &mp0, &mp1);
            const dim_t m0 = mp0 * MR, m1 = std::min(g.m, mp1 * MR);
            unsigned block = 0;  // (jc, pc) blocks so far: steal takes ranges[block % 2]
            for (dim_t jc = 0; jc < g.n; jc += NC) {
                const dim_t nc = std::min(NC, g.n - jc);
                const dim_t n_panels = ceil_div(nc, NR);
                dim_t np0, np1;  // this thread's share of the jr loop
                split(n_panels, grid.tn, tj, &np0, &np1);
                dim_t bp0 = np0, bp1 = np1;  // the B panels this thread packs
                if (shared_b) split(n_panels, nt, tid, &bp0, &bp1);
                const dim_t first = shared_b ? 0 : np0;
                const bool filling = fills(m0, m1);
                for (dim_t pc = 0; pc < g.k; pc += KC, ++block) {
                    const dim_t kc = std::min(KC, g.k - pc);
                    const auto [pb, bs] = b_panels(jc, nc, np0, bp0, bp1, first, own_b, filling, pc, kc);
                    if (b_barriers) barrier.wait(sense);
                    if (steal) {
                        StealRanges& rg = ranges[block % 2];
                        for (dim_t unit = rg.next(tid); unit >= 0; unit = rg.next(tid)) {
                            dim_t r0, r1;
                            unit_rows.range(unit, &r0, &r1);
                            rows_times_panels(bufa, r0, r1, jc, nc, np0, np1, first, pb, bs, own_b, false, pc, kc);
                        }
                    } else {
                        rows_times_panels(bufa, m0, m1, jc, nc, np0, np1, first, pb, bs, own_b, filling, pc, kc);
                    }
                    if (b_barriers) barrier.wait(sense);
                    // Every thread has left this block's ranges (all passed the barrier), and none
                    // takes from them again before the block after next, behind this thread's next
                    // barrier: thread 0 resets them here.
                    if (steal && tid == 0) ranges[block % 2].reset(row_units, nt);
                }
            }
        }
        end_product_on_thread();  // (AMX: the thread's tile configuration as it was before the product)
        // Meet here, spinning, rather than at the region's implicit barrier, where the thread that
        // finishes first would fall asleep after libgomp's short spin and need waking.
        if (team) barrier.wait(sense);
    };

#ifdef _OPENMP
    if (nt > 1) {
        // The runtime may give a smaller team than asked (OMP_THREAD_LIMIT, OMP_DYNAMIC, nesting
        // beyond max-active-levels); the plan's parts (and their barriers) assume exactly nt. All
        // threads see the same team size, so either every part runs or none does, and then
        // nothing has been written yet: the whole product runs again on this thread.
        bool short_team = false;
#pragma omp parallel num_threads(nt)
        {
            if (omp_get_num_threads() == nt)
                body(omp_get_thread_num());
            else if (omp_get_thread_num() == 0)
                short_team = true;
        }
        if (short_team) run_blocked_t<Tr>(g, A, B, cand, 1);
        return;
    }
#endif
    body(0);
}

template <typename T, class ASrc, class BSrc>
void run_blocked(const Tiles<T>& g, const ASrc& A, const BSrc& B, const Candidate<T>& cand, int nt) {
    run_blocked_t<FloatTraits<T>>(g, A, B, cand, nt);
}

}  // namespace kernels
