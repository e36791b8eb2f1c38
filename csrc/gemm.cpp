// Five-loop GEMM driver: jc (NC) -> pc (KC, pack B) -> ic (MC, pack A) -> jr (NR) -> ir (MR).
//
// Parallelism: threads form a tm x tn grid over the ic (M) and jr (N) loops. All threads pack the
// shared KC x NC block of B together, then each packs its own MC x KC block of A (A blocks are
// private to a core's L2) and runs its tiles. Two barriers per (jc, pc) iteration; none when only
// N is split, where each thread packs the B panels it uses into a region of its own.
#include "gemm.hpp"

#include <algorithm>
#include <cstdlib>

#include "cpu_info.hpp"
#include "workspace.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace kernels {

namespace {

template <typename T>
void scale_c(dim_t m, dim_t n, T beta, T* c, inc_t rs, inc_t cs) {
    for (dim_t i = 0; i < m; ++i)
        for (dim_t j = 0; j < n; ++j) {
            T& x = c[i * rs + j * cs];
            x = beta == T(0) ? T(0) : beta * x;  // beta == 0: do not read C
        }
}

// Limits of the unpacked path; see direct_suits.
constexpr double kDirectMaxFmas = 160.0 * 160.0 * 160.0;
constexpr dim_t kDirectMaxRows = 64;

struct Grid {
    int tm, tn;
};

// Factor nt = tm * tn to minimise each thread's work per k step: its FMA lanes (tiles x MR x NR)
// plus what it streams, weighted: its share of A rows and of the packed B columns (splitting M
// makes every thread read the whole B block, splitting N the whole A block). A streamed element
// costs about 4 FMA lanes (an L2/L3 line shared by 8-16 elements vs 32 lanes per cycle); the
// term matters only for short, wide C such as 49 x 512, where splitting N avoids sharing B.
Grid choose_grid(int nt, dim_t m, dim_t nc, dim_t mr, dim_t nr) {
    constexpr dim_t kStreamWeight = 4;
    Grid best{nt, 1};
    dim_t best_cost = -1;
    for (int tm = nt; tm >= 1; --tm) {
        if (nt % tm) continue;
        const int tn = nt / tm;
        const dim_t tiles = ceil_div(ceil_div(m, mr), tm) * ceil_div(ceil_div(nc, nr), tn);
        const dim_t cost = tiles * mr * nr + kStreamWeight * (ceil_div(m, tm) + ceil_div(nc, tn));
        if (best_cost < 0 || cost < best_cost) best = {tm, tn}, best_cost = cost;
    }
    return best;
}

// [lo, hi) of `count` items for part `i` of `parts`, as even as possible.
inline void split(dim_t count, int parts, int i, dim_t* lo, dim_t* hi) {
    *lo = count * i / parts;
    *hi = count * (i + 1) / parts;
}

template <typename T>
void run(const GemmArgs<T>& g, const Candidate<T>& cand, int nt) {
    // Barriers only inside our own team: a serial call may run inside an enclosing parallel
    // region (batched matmul), where an orphaned barrier would bind to that outer team.
    const bool team = nt > 1;
    const Ukernel<T>& u = *cand.ukr;
    const dim_t MR = u.mr, NR = u.nr;
    const dim_t KC = std::min(cand.blk.kc, g.k);
    const dim_t NC = std::min(cand.blk.nc, round_up(g.n, NR));
    const dim_t MC = std::min(cand.blk.mc, round_up(g.m, MR));

    const Grid grid = choose_grid(nt, g.m, NC, MR, NR);
    // With M split (tm > 1) the B block is shared: all threads pack it together, between
    // barriers. With only N split each thread packs just the panels it uses into a region of its
    // own, and never waits for another (packing, memory bound, overlaps the other's FMAs).
    const bool shared_b = grid.tm > 1;
    const dim_t own_panels = ceil_div(ceil_div(NC, NR), grid.tn);  // most panels a thread owns
    const dim_t own_b_elems = round_up(own_panels * NR * KC, static_cast<dim_t>(kAlign / sizeof(T)));
    const std::size_t b_elems = static_cast<std::size_t>(shared_b ? KC * NC : own_b_elems * nt);
    const std::size_t a_elems = static_cast<std::size_t>(KC * MC);
    // One buffer: packed B followed by one packed A block per thread; each part starts on a
    // cache line.
    const std::size_t b_bytes = round_up(b_elems * sizeof(T), kAlign);
    const std::size_t a_bytes = round_up(a_elems * sizeof(T), kAlign);
    char* ws = static_cast<char*>(workspace(b_bytes + a_bytes * nt));
    T* const bufb = reinterpret_cast<T*>(ws);

    auto body = [&](int tid) {
        T* const bufa = reinterpret_cast<T*>(ws + b_bytes + a_bytes * tid);
        const int ti = tid % grid.tm, tj = tid / grid.tm;
        dim_t mp0, mp1;
        split(ceil_div(g.m, MR), grid.tm, ti, &mp0, &mp1);
        const dim_t m0 = mp0 * MR, m1 = std::min(g.m, mp1 * MR);

        for (dim_t jc = 0; jc < g.n; jc += NC) {
            const dim_t nc = std::min(NC, g.n - jc);
            const dim_t n_panels = ceil_div(nc, NR);
            dim_t np0, np1;  // this thread's share of the jr loop
            split(n_panels, grid.tn, tj, &np0, &np1);
            dim_t bp0 = np0, bp1 = np1;  // the B panels this thread packs
            if (shared_b) split(n_panels, nt, tid, &bp0, &bp1);
            // Panel p of this block is at packed_b + (p - first) * NR * kc.
            T* const packed_b = shared_b ? bufb : bufb + own_b_elems * tid;
            const dim_t first = shared_b ? 0 : np0;

            for (dim_t pc = 0; pc < g.k; pc += KC) {
                const dim_t kc = std::min(KC, g.k - pc);
                if (bp1 > bp0) {
                    const dim_t j0 = bp0 * NR, j1 = std::min(nc, bp1 * NR);
                    u.pack_b(kc, j1 - j0, g.b + pc * g.rs_b + (jc + j0) * g.cs_b, g.rs_b, g.cs_b,
                             packed_b + (bp0 - first) * NR * kc);
                }
                if (team && shared_b) {
#pragma omp barrier
                }
                // Only the first k block applies the caller's beta; later ones accumulate.
                const T beta = pc == 0 ? g.beta : T(1);
                for (dim_t ic = m0; ic < m1; ic += MC) {
                    const dim_t mc = std::min(MC, m1 - ic);
                    u.pack_a(mc, kc, g.a + ic * g.rs_a + pc * g.cs_a, g.rs_a, g.cs_a, bufa);
                    for (dim_t jp = np0; jp < np1; ++jp) {
                        const dim_t jr = jp * NR;
                        const dim_t nr = std::min(NR, nc - jr);
                        const T* bp = packed_b + (jp - first) * NR * kc;
                        T* cj = g.c + (jc + jr) * g.cs_c + ic * g.rs_c;
                        for (dim_t ir = 0; ir < mc; ir += MR) {
                            const dim_t mr = std::min(MR, mc - ir);
                            const auto kern = mr <= MR / 2 && u.kernel_half ? u.kernel_half : u.kernel;
                            kern(kc, g.alpha, bufa + ir * kc, bp, beta, cj + ir * g.rs_c, g.rs_c,
                                 g.cs_c, mr, nr);
                        }
                    }
                }
                if (team && shared_b) {
#pragma omp barrier
                }
            }
        }
    };

#ifdef _OPENMP
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        body(omp_get_thread_num());
        return;
    }
#endif
    body(0);
}

// When to skip packing and run every tile straight from the caller's arrays (the "direct" kernel):
//  - small products (m*n*k <= 160^3, operands in L1/L2): the copies and, with threads, the two
//    barriers per block cost more than the reuse they buy (measured: 1.2-1.4x faster at n = 128-160
//    with 1 thread, 1.5-1.9x with 2, against the packed path);
//  - few rows of C in kernel orientation (m <= kDirectMaxRows, e.g. the N = 49 or 196 pixels of
//    late CNN layers): each packed B element would be used only m times, so packing B (a
//    transpose for row-major inputs) rivals the FMAs; the unpacked A (k x m) stays in L2 instead.
// Needs unit stride along the rows of A, which row-major NumPy operands have after the swap.
template <typename T>
bool direct_suits(const GemmArgs<T>& g, const Ukernel<T>& u, std::size_t l2_bytes) {
    if (u.direct == nullptr || g.rs_a != 1) return false;
    const double mnk = static_cast<double>(g.m) * static_cast<double>(g.n) * static_cast<double>(g.k);
    const bool a_in_l2 = static_cast<double>(g.m) * static_cast<double>(g.k) * sizeof(T) <= l2_bytes / 2;
    return mnk <= kDirectMaxFmas || (g.m <= kDirectMaxRows && a_in_l2);
}

// Tiles are independent: threads split the jr loop, no packing, no barriers.
template <typename T>
void run_direct(const GemmArgs<T>& g, const Ukernel<T>& u, int nt) {
    const dim_t n_tiles = ceil_div(g.n, u.nr);
    auto body = [&](int tid, int parts) {
        dim_t j0, j1;
        split(n_tiles, parts, tid, &j0, &j1);
        for (dim_t jp = j0; jp < j1; ++jp) {
            const dim_t jr = jp * u.nr;
            for (dim_t ir = 0; ir < g.m; ir += u.mr) {
                const dim_t mr = std::min(u.mr, g.m - ir);
                const auto kern = mr <= u.mr / 2 && u.direct_half ? u.direct_half : u.direct;
                kern(g.k, g.alpha, g.a + ir, g.cs_a, g.b + jr * g.cs_b, g.rs_b, g.cs_b, g.beta,
                     g.c + ir * g.rs_c + jr * g.cs_c, g.rs_c, g.cs_c, mr, std::min(u.nr, g.n - jr));
            }
        }
    };
#ifdef _OPENMP
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        body(omp_get_thread_num(), omp_get_num_threads());
        return;
    }
#endif
    body(0, 1);
}

}  // namespace

template <typename T>
int useful_threads(dim_t m, dim_t n, dim_t k, const Engine<T>& e, int nthreads) {
    if (nthreads <= 1) return 1;
    const Ukernel<T>& u = *e.cands.front().ukr;
    const double fmas = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
    const double tiles = static_cast<double>(ceil_div(m, u.mr) * ceil_div(n, u.nr));
    const double by_work = fmas / 2.0e5, cap = std::min(by_work, tiles);
    return cap < 2.0 ? 1 : static_cast<int>(std::min<double>(cap, nthreads));
}

template <typename T>
void gemm(const GemmArgs<T>& in, const Engine<T>& e, int nthreads) {
    GemmArgs<T> g = in;
    if (g.m <= 0 || g.n <= 0) return;
    if (g.k <= 0 || g.alpha == T(0)) {  // BLAS: A and B are not referenced
        scale_c(g.m, g.n, g.beta, g.c, g.rs_c, g.cs_c);
        return;
    }
    // The micro-kernels vectorise along the rows of a C tile (rs_c == 1 is their fast path).
    // For row-major C compute C^T = B^T A^T instead: same memory, roles swapped, no copy.
    if (std::llabs(g.cs_c) < std::llabs(g.rs_c)) {
        std::swap(g.m, g.n);
        std::swap(g.a, g.b);
        const inc_t ra = g.rs_a, ca = g.cs_a;
        g.rs_a = g.cs_b, g.cs_a = g.rs_b;
        g.rs_b = ca, g.cs_b = ra;
        std::swap(g.rs_c, g.cs_c);
    }
    const int nt = useful_threads(g.m, g.n, g.k, e, nthreads);
    const Candidate<T>& chosen = e.pick(g.m, g.n);
    if (direct_suits(g, *chosen.ukr, cache_sizes().l2)) return run_direct(g, *chosen.ukr, nt);
    run(g, chosen, nt);
}

template void gemm<float>(const GemmArgs<float>&, const Engine<float>&, int);
template void gemm<double>(const GemmArgs<double>&, const Engine<double>&, int);
template int useful_threads<float>(dim_t, dim_t, dim_t, const Engine<float>&, int);
template int useful_threads<double>(dim_t, dim_t, dim_t, const Engine<double>&, int);

}  // namespace kernels
