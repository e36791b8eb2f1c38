// GEMM on strided operands: orientation, thread count, and the choice between the blocked driver
// (driver.hpp), the unpacked path for small products and GEMV (gemv.cpp) for one column of C.
#include "gemm.hpp"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "../core/cpu_info.hpp"
#include "driver.hpp"
#include "gemv.hpp"

namespace kernels {

namespace {

// C := ep(beta * C) when A and B do not take part (k == 0 or alpha == 0).
template <typename T>
void scale_c(dim_t m, dim_t n, T beta, T* c, inc_t rs, inc_t cs, const Epilogue<T>& ep) {
    const bool epi = ep.active();
    for (dim_t i = 0; i < m; ++i)
        for (dim_t j = 0; j < n; ++j) {
            T& x = c[i * rs + j * cs];
            const T v = beta == T(0) ? T(0) : beta * x;  // beta == 0: do not read C
            x = epi ? ep.apply(v, i, j) : v;  // (the residual, which may be C, read before x is written)
        }
}

// Limits of the unpacked path; see direct_order.
constexpr double kDirectMaxFmas = 160.0 * 160.0 * 160.0;
constexpr dim_t kDirectMaxRows = 64;
// The unpacked A (k x m, every tile of C reads all of it) must stay in L2: up to the whole L2, at
// most 1 MiB. With half the L2 as the bound, ResNet-50's layer-4 3x3 convolution as a row-major
// GEMM, (512 x 4608) @ (4608 x 49) (A: 49 x 4608 floats, 903 KB), took the packed path on a 1 MiB-L2
// Zen 4 and ran 3.27-3.38 ms at 1 thread (0.85x OpenBLAS's 2.81) and 1.58-1.68 at 2 (0.85x); direct,
// 2.74-2.78 and 1.38-1.40 ms. On a 2 MiB L2 (Sapphire Rapids, where the half was measured) the
// bound stays 1 MiB.
constexpr std::size_t kDirectMaxA = std::size_t(1) << 20;
// Few columns of C in kernel orientation (the output channels of a CNN's 64- and 128-channel
// layers as row-major im2col GEMMs: C^T = X^T W^T has n = 64 or 128): each packed A element would
// be used only n times, so packing A (a copy of the whole im2col matrix) costs a fixed share of
// the FMAs; unpacked, one MR-row block of A (MR x k) and all of B (k x n) stay in L2 while the
// block meets every column panel. Zen 4, 1 thread, float32, one process alternating, as M x N x K
// of the shapes file (packed -> unpacked): 64 x 12544 x 147 (ResNet-50's stem) 2.97 -> 2.54 ms,
// 64 x 3136 x 576 2.70 -> 2.26, 64 x 3136 x 256 1.12 -> 0.98, 64 x 3136 x 64 0.26 -> 0.25,
// 128 x 784 x 1152 2.46 -> 2.24, 128 x 784 x 512 0.98 -> 0.95; even within 1% at 128 x 784 x 256,
// 128 x 3136 x 64 and 256 x 784 x 128 (n = 256, not taken). 2 threads: the same or better.
constexpr dim_t kDirectMaxCols = 128;

enum class DirectOrder { None, Columns, Rows };

// When to skip packing and run every tile straight from the caller's arrays (the "direct" kernel),
// and in which order:
//  - small products (m*n*k <= 160^3, operands in L1/L2): the copies and, with threads, the two
//    barriers per block cost more than the reuse they buy (measured: 1.2-1.4x faster at n = 128-160
//    with 1 thread, 1.5-1.9x with 2, against the packed path);
//  - few rows of C in kernel orientation (m <= kDirectMaxRows, e.g. the N = 49 or 196 pixels of
//    late CNN layers): each packed B element would be used only m times, so packing B (a
//    transpose for row-major inputs) rivals the FMAs; the unpacked A (k x m) stays in L2 instead;
//    column panels outermost (run_direct);
//  - few columns (n <= kDirectMaxCols) with B and one MR-row block of A in L2: row blocks
//    outermost (run_direct_rows), each meeting every column panel while it is in L2.
// Needs unit stride along the rows of A, which row-major NumPy operands have after the swap.
template <typename T>
DirectOrder direct_order(const GemmArgs<T>& g, const Ukernel<T>& u, std::size_t l2_bytes) {
    if (u.direct == nullptr || g.rs_a != 1) return DirectOrder::None;
    const double mnk = static_cast<double>(g.m) * static_cast<double>(g.n) * static_cast<double>(g.k);
    const double bytes = sizeof(T);
    const bool a_in_l2 = static_cast<double>(g.m) * static_cast<double>(g.k) * bytes <= std::min(l2_bytes, kDirectMaxA);
    if (mnk <= kDirectMaxFmas || (g.m <= kDirectMaxRows && a_in_l2)) return DirectOrder::Columns;
    const bool rows_fit = static_cast<double>(g.n + u.mr) * static_cast<double>(g.k) * bytes <= static_cast<double>(l2_bytes);
    if (g.n <= kDirectMaxCols && rows_fit) return DirectOrder::Rows;
    return DirectOrder::None;
}

// The unpacked kernel on C's tile at (ir, jr), straight from the caller's arrays (the half-height
// or short kernel for a last block of fewer rows: Ukernel::direct_for).
template <typename T>
KERNELS_INLINE void direct_tile(const GemmArgs<T>& g, const Ukernel<T>& u, dim_t ir, dim_t jr) {
    const dim_t mr = std::min(u.mr, g.m - ir);
    const auto kern = u.direct_for(mr);
    Epilogue<T> et;
    const Epilogue<T>* ep = nullptr;
    if (g.ep.active()) et = g.ep.at(ir, jr), ep = &et;
    kern(g.k, g.alpha, g.a + ir, g.cs_a, g.b + jr * g.cs_b, g.rs_b, g.cs_b, g.beta, g.c + ir * g.rs_c + jr * g.cs_c,
         g.rs_c, g.cs_c, mr, std::min(u.nr, g.n - jr), ep);
}

// Row blocks of MR are independent: threads split them, no packing, no barriers. Each block first
// prefetches the next one's A lines into L2: its k rows lie a whole row of A apart (the im2col
// matrix's 50 KB for ResNet-50's stem), more streams than the hardware prefetchers follow. Zen 4,
// 1 thread, one process alternating: stem 2.60 -> 2.54 ms, 64 x 3136 x 576 2.34 -> 2.26; issuing
// them spread over the column panels instead ran the stem at 3.10 against 2.75 ms all at once,
// and two or three blocks ahead measured the same as one.
template <typename T>
void run_direct_rows(const GemmArgs<T>& g, const Ukernel<T>& u, int nt) {
    const dim_t m_tiles = ceil_div(g.m, u.mr);
    auto body = [&](int tid, int parts) {
        dim_t i0, i1;
        split(m_tiles, parts, tid, &i0, &i1);
        for (dim_t ip = i0; ip < i1; ++ip) {
            const dim_t ir = ip * u.mr;
            if (ip + 1 < i1) {  // the next block's lines (never past its last row)
                const dim_t lines = ceil_div(std::min(u.mr, g.m - ir - u.mr) * static_cast<dim_t>(sizeof(T)), dim_t{64});
                const T* next = g.a + ir + u.mr;
                for (dim_t p = 0; p < g.k; ++p)
                    for (dim_t l = 0; l < lines; ++l) __builtin_prefetch(next + p * g.cs_a + l * dim_t(64 / sizeof(T)), 0, 2);
            }
            for (dim_t jr = 0; jr < g.n; jr += u.nr) direct_tile(g, u, ir, jr);
        }
    };
    run_parts(nt, body);
}

// Rows of C computed as dot products instead of by the kernel: a few rows past a whole number of
// vectors, e.g. the 49 pixels of a CNN's 7x7 layers as the rows of an NCHW-ordered GEMM (C = W X,
// row-major: in kernel orientation m = 49, n = channels). Every kernel tile covers 64 rows there (49
// of its 64 lanes busy; OpenBLAS the same), while 48 rows fill the 2-vector kernel and its half, or
// the 4-vector kernel's short variant, exactly, and the 49th row costs one dot product per column
// of B, each over a contiguous column (rs_b == 1) while the tile loop has it in cache. A dot row
// costs about kDotRowCost kernel rows: two loads per FMA instead of the kernel's one per several.
// Zen 4, float32, M x N x K as in the shapes file, one process alternating (64-row tiles -> 48 rows
// + 1 dot row), 1 thread: 2048 x 49 x 512 1.207 -> 1.005 ms on the 2-vector kernel (NumPy/OpenBLAS
// 1.196), 512 x 49 x 4608 2.785 -> 2.299 (2.945); 2 threads 0.717 -> 0.568 and 1.550 -> 1.348.
// Where B's columns alias in L1 (K = 1024, 2048) the short variant takes them: 512 x 49 x 2048
// 1.21 -> 0.96 ms (NumPy 1.19), 2048 x 49 x 1024 1.95 (NumPy 2.75); 2 threads 0.71 -> 0.50.
constexpr double kDotRowCost = 2.0;
constexpr dim_t kMaxDotRows = 4;
constexpr dim_t kL1Ways = 8;  // Zen 4's and Skylake-X's L1d (Sapphire Rapids: 12)

// How run_direct splits C's rows: the last `dots` rows as dot products (0: none), the others on
// kernel u.
template <typename T>
struct DotSplit {
    dim_t dots;
    const Ukernel<T>* u;
};

// The split with the least padded tile area (Engine::pick's measure, with the unpacked kernels'
// short variant) plus kDotRowCost rows per dot row; no split is the pick's kernel on all rows.
template <typename T>
DotSplit<T> dot_tail_rows(const GemmArgs<T>& g, const Engine<T>& e, const Candidate<T>& picked) {
    auto area = [&](const Candidate<T>& c, dim_t m) {
        return static_cast<double>(c.ukr->direct_padded_rows(m)) * static_cast<double>(c.ukr->padded_cols(g.n)) /
               c.efficiency;
    };
    DotSplit<T> best{0, picked.ukr};
    if (g.rs_b != 1) return best;  // the dot products need B's columns contiguous
    double best_cost = area(picked, g.m);
    // B's columns a multiple of 4 KiB apart share one L1 set: a kernel broadcasting from more of
    // them than the set has ways evicts its own lines at every k step (512 x 49 x 2048 on the
    // 12-column kernel: 1.17 ms, where K = 2056 ran 0.99).
    const bool aliased = (static_cast<std::size_t>(g.cs_b) * sizeof(T)) % 4096 == 0;
    for (const Candidate<T>& c : e.cands) {
        if (c.ukr->direct == nullptr || (aliased && c.ukr->nr > kL1Ways)) continue;
        for (dim_t r = 1; r <= kMaxDotRows && r < g.m; ++r) {
            const double cost = area(c, g.m - r) + kDotRowCost * static_cast<double>(r * g.n);
            if (cost < best_cost) best = {r, c.ukr}, best_cost = cost;
        }
    }
    return best;
}

// C's rows [first, first + count) at columns [jr, jr + nn) as dot products of the gathered rows
// of A (count x k, contiguous) with B's columns.
template <typename T>
void dot_tile(const GemmArgs<T>& g, dim_t first, dim_t count, const T* a_rows, dim_t jr, dim_t nn) {
    constexpr dim_t kChunk = 16;
    T y[kChunk];
    const bool epi = g.ep.active();
    for (dim_t r = 0; r < count; ++r) {
        const dim_t i = first + r;
        for (dim_t j0 = jr; j0 < jr + nn; j0 += kChunk) {
            const dim_t len = std::min(kChunk, jr + nn - j0);
            dot_products(len, g.k, g.b + j0 * g.cs_b, g.cs_b, a_rows + r * g.k, y);
            for (dim_t j = j0; j < j0 + len; ++j) {
                T& c = g.c[i * g.rs_c + j * g.cs_c];
                const T v = g.alpha * y[j - j0] + (g.beta == T(0) ? T(0) : g.beta * c);  // beta 0: C not read
                c = epi ? g.ep.apply(v, i, j) : v;  // (a residual that is C itself is read first)
            }
        }
    }
}

// Tiles are independent: threads split the jr loop, no packing, no barriers. The last dot_rows
// rows of C, if any, are dot products (dot_tail_rows), per column tile after its kernel tiles.
template <typename T>
void run_direct(const GemmArgs<T>& g, const Ukernel<T>& u, int nt, dim_t dot_rows = 0) {
    const dim_t n_tiles = ceil_div(g.n, u.nr);
    GemmArgs<T> top = g;
    top.m = g.m - dot_rows;
    std::vector<T> a_rows(static_cast<std::size_t>(dot_rows * g.k));  // A's last rows, each contiguous
    for (dim_t r = 0; r < dot_rows; ++r)
        for (dim_t p = 0; p < g.k; ++p)
            a_rows[static_cast<std::size_t>(r * g.k + p)] = g.a[(top.m + r) * g.rs_a + p * g.cs_a];
    auto body = [&](int tid, int parts) {
        dim_t j0, j1;
        split(n_tiles, parts, tid, &j0, &j1);
        for (dim_t jp = j0; jp < j1; ++jp) {
            for (dim_t ir = 0; ir < top.m; ir += u.mr) direct_tile(top, u, ir, jp * u.nr);
            if (dot_rows > 0) dot_tile(g, top.m, dot_rows, a_rows.data(), jp * u.nr, std::min(u.nr, g.n - jp * u.nr));
        }
    };
    run_parts(nt, body);
}

}  // namespace

template <typename T>
int useful_threads(dim_t m, dim_t n, dim_t k, const Engine<T>& e, int nthreads) {
#ifndef _OPENMP
    // Without OpenMP there is no team: run_blocked (driver.hpp) and conv_direct plan a grid of the
    // nt parts returned here and then run part 0 alone, so any nt > 1 would leave the other parts
    // of C unwritten. Every team size of those drivers comes from this function, so one clamp here
    // covers them (the `parallel for` loops elsewhere are whole loops without OpenMP).
    (void)m, (void)n, (void)k, (void)e, (void)nthreads;
    return 1;
#else
    if (nthreads <= 1) return 1;
    const Ukernel<T>& u = *e.cands.front().ukr;
    const double fmas = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
    const double tiles = static_cast<double>(ceil_div(m, u.mr) * ceil_div(n, u.nr));
    const double by_work = fmas / 2.0e5, cap = std::min(by_work, tiles);
    return cap < 2.0 ? 1 : static_cast<int>(std::min<double>(cap, nthreads));
#endif
}

template <typename T>
void gemm(const GemmArgs<T>& in, const Engine<T>& e, int nthreads) {
    GemmArgs<T> g = in;
    if (g.m <= 0 || g.n <= 0) return;
    if (g.k <= 0 || g.alpha == T(0)) {  // BLAS: A and B are not referenced
        scale_c(g.m, g.n, g.beta, g.c, g.rs_c, g.cs_c, g.ep);
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
        g.ep = g.ep.transposed();
    }
    const int nt = useful_threads(g.m, g.n, g.k, e, nthreads);
    if (gemv_suits(g)) return gemv(g, nt);
    const Candidate<T>& chosen = e.pick(g.m, g.n);
    switch (direct_order(g, *chosen.ukr, cache_sizes().l2)) {
        case DirectOrder::Columns: {
            const DotSplit<T> split = dot_tail_rows(g, e, chosen);
            return run_direct(g, *split.u, nt, split.dots);
        }
        case DirectOrder::Rows: return run_direct_rows(g, *chosen.ukr, nt);
        case DirectOrder::None: break;
    }
    const Tiles<T> t{g.m, g.n, g.k, g.alpha, g.beta, g.c, g.rs_c, g.cs_c, g.ep};
    Candidate<T> cand = chosen;  // with the row's blocks for large products (arch/uarch.cpp says why)
    if (cand.large_min_mn > 0 && std::min(g.m, g.n) >= cand.large_min_mn) cand.blk = cand.large;
    run_blocked(t, StridedA<T>{g.a, g.rs_a, g.cs_a}, StridedB<T>{g.b, g.rs_b, g.cs_b}, cand, nt);
}

template void gemm<float>(const GemmArgs<float>&, const Engine<float>&, int);
template void gemm<double>(const GemmArgs<double>&, const Engine<double>&, int);
template int useful_threads<float>(dim_t, dim_t, dim_t, const Engine<float>&, int);
template int useful_threads<double>(dim_t, dim_t, dim_t, const Engine<double>&, int);

}  // namespace kernels
