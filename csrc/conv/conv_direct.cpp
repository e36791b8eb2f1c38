// Direct convolution: C (Kg x pixels) = sum over taps (r, s) of W_rs (Kg x Cg) * X_rs (Cg x
// pixels), where column j of X_rs holds the Cg input channels that output pixel j sees through
// tap (r, s): one contiguous run of an NHWC image, or one element per channel plane of an NCHW
// one. The batch-reduce micro-kernel (taps_fn)
// broadcasts those channels straight from the image through one pointer per pixel and tap, so
// neither an im2col block nor a packed B exists: the gather that convGemm does while packing costs
// nothing here, and the only packing left is the weights'. Pixels in the zero padding point at a
// zero column; taps that fall wholly into the padding are dropped.
//
// NCHW: the same kernels broadcast at the plane stride (a tile's NR pixels share a cache line per
// channel, so L1 still serves them) and store the channels x pixels tile with scalar writes
// (NR-pixel runs per channel plane, ~400 stores per tile against >= 9*16*24 FMAs for 3x3 layers
// of >= 16 channels). Measured 1.2-1.5x faster than convGemm's NCHW gather on ResNet-50's 3x3
// layers; "auto" uses it for NCHW layers with taps and >= 16 channels per group.
//
// Blocking (same cache model as the GEMM driver, blocking.hpp):
//   - a tile is MR output channels x NR output pixels, consecutive in the flattened (image, ho, wo)
//     order, so 7x7 outputs waste no columns at row ends;
//   - loop order per thread: weight block -> pixel tile -> K panel. A weight block (a few K
//     panels x every tap x a range of input channels, see weight_block) stays in L2 while the
//     pixel tiles pass; the input pixels of one tile stay in L1 across its K panels. Blocks are
//     sized like the GEMM's MC x KC block (a quarter of L2) and cut along K first, so that most
//     layers reduce over all their channels in registers and write each output once, with its
//     epilogue applied;
//   - weights: a Conv2d plan holds them packed whole. A one-shot call packs each chunk of its own
//     K panels right before using it, into a buffer that stays in L2: packing everything first
//     wrote, then re-read, 9 MiB per 3x3 layer of the 7x7 stage (as long as that layer's FMAs);
//   - threads: a tm x tn grid over K panels and pixel tiles (choose_grid), fixed for the whole
//     call, so chunks need no barrier: each thread owns its C tiles (and packs the weights of its
//     K panels; with pixels split, both threads pack the same small panels).
#include "conv_direct.hpp"

#include <algorithm>

#include "../core/checked.hpp"
#include "../core/cpu_info.hpp"
#include "../gemm/driver.hpp"
#include "../gemm/gemm.hpp"
#include "../core/workspace.hpp"
#include "conv_pack.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace kernels {
namespace {

constexpr dim_t kMaxNr = 16;  // widest micro-tile of the ISA table (12 today)
constexpr const char* kWhat = "conv2d: the direct kernel's workspace";
// Weight blocks per thread at least (when its panels allow), on layers with few pixel tiles per
// thread: the first block cannot be prefetched (next_block warms only the blocks after it), so a
// layer whose weights fit one L2 block would read them all on demand, a stall that few tiles do not
// amortise. Quarter blocks leave a quarter to demand reads; the pixel data they re-read per block
// is in L2. Measured (1 thread, weights from memory): MobileNetV2's 960->160 at 7x7 0.151-0.159 ->
// 0.120-0.128 ms, 576->96 at 14x14 0.155 -> 0.120-0.134; the whole model 1.08-1.17x -> 1.04x
// onnxruntime's time (interleaved A/B). With many tiles the extra blocks only repeat the per-tile
// work (tap tables, short k loops): ResNet-50's 64->256 at 56x56 (523 tiles) 0.55 -> 0.71 ms.
constexpr dim_t kMinBlocks = 4;
constexpr dim_t kFewTiles = 64;

// K panels x input channels of the weight block kept in L2 (see weight_block).
struct WeightBlock {
    dim_t panels, kc;
};

// Everything about one layer's run that the workspace size depends on.
template <typename T>
struct DirectPlan {
    const Candidate<T>* cand;
    dim_t mr, nr, taps, kd;
    WeightBlock wb;              // K panels x input channels per weight block
    bool merge;                  // the batch flattens into one pixel range (y's images contiguous)
    bool row_runs;               // a pixel's taps (r, 0..S-1) may be read as one run of S*Cg channels
    dim_t blocks, npix;          // output blocks (images, or 1 when merged) and pixels per block
    Grid grid;
    int nt;
    std::size_t chunk_elems;    // one thread's packed weight block
    std::size_t packed_bytes;   // Slot::packing: the threads' chunk buffers, when a call packs
    std::size_t zero_elems;     // the zero column (zero_block)
    std::size_t table_bytes;    // one thread's tap table
    std::size_t scratch_bytes;  // Slot::scratch: the tap tables
};

// The weight block kept in L2 while the pixel tiles pass: `panels` K panels (MR output channels
// each) x every tap x `kc` input channels, at most the GEMM's L2 block (MC x KC elements, a
// quarter of L2: arch/table.cpp). Whole input-channel ranges come first, so that each output is
// written once, with its epilogue, straight from registers; only a panel that alone exceeds the
// budget (3x3 layers with >= 256 channels) is cut into channel chunks, whose partial sums go
// through C. Pixel data need no such care: a tile's NR broadcast streams cost ~2 bytes per cycle
// from L2 against the A panel's ~21. With few pixel tiles, at most a kMinBlocks-th of the thread's
// panels per block.
template <typename T>
WeightBlock weight_block(dim_t cg, dim_t taps, dim_t mr, dim_t own_panels, dim_t own_tiles, const Candidate<T>& c) {
    const dim_t budget = c.blk.mc * c.blk.kc, panel = checked_mul(checked_mul(mr, taps, kWhat), cg, kWhat);
    const dim_t most = own_tiles < kFewTiles ? ceil_div(own_panels, kMinBlocks) : own_panels;
    if (panel <= budget) return {std::clamp<dim_t>(budget / panel, 1, most), cg};
    const dim_t fit = std::max<dim_t>(budget / (mr * taps), 16);
    const dim_t chunks = ceil_div(cg, fit);
    return {1, std::min(cg, round_up(ceil_div(cg, chunks), 16))};
}

// The thread grid: choose_grid's (the GEMM's cost model), except that layers whose weights take at
// most a quarter of L2 split the pixels (every thread reads all the weights, from its L2) unless
// that leaves a thread over an eighth more lanes than the model's grid. The model splits the
// output channels of such layers where its lane count is a little lower, and each thread then
// runs every pixel tile with half the panels: 2 threads, Emerald Rapids, interleaved medians,
// pixels against channels split: 64->384 1x1 @14x14 (98 KB of weights) 42-43 vs 55-61 us,
// 96->576 @14x14 76-82 vs 91-100, 128->512 @28x28 286-301 vs 335-342, 3x3 64->64 @56x56
// 401-406 vs 420-423; with larger weights the channel split stays ahead (512->2048 @7x7, 4 MB:
// 324-333 vs 379-392; 256->1024 @14x14 even; 160->960 @7x7, 614 KB, even).
template <typename T>
Grid direct_grid(int nt, dim_t kg, dim_t npix, dim_t kd, dim_t mr, dim_t nr, const Candidate<T>& c, bool half_rows,
                 std::size_t elem) {
    const Grid model = choose_grid(nt, kg, npix, mr, nr, c.grid_stream_weight, half_rows);
    const std::size_t weights = static_cast<std::size_t>(kg) * static_cast<std::size_t>(kd) * elem;
    if (model.tn == nt || weights > cache_sizes().l2 / 4) return model;
    auto lanes = [&](Grid g) { return busiest_rows(kg, mr, g.tm, half_rows) * ceil_div(ceil_div(npix, nr), g.tn); };
    const Grid pixels{1, nt};
    return lanes(pixels) * 8 <= lanes(model) * 9 ? pixels : model;
}

template <typename T>
DirectPlan<T> plan_direct(const ConvGeom& g, const Strides4& xs, const Strides4& ys, const Engine<T>& e, int nthreads,
                          bool residual_merges = true) {
    DirectPlan<T> p{};
    const dim_t pix = g.pixels(), kg = g.kg(), cg = g.cg();
    p.merge = ys.n == pix * ys.w && residual_merges;  // (the residual is read at y's flattened pixel index)
    p.blocks = p.merge ? 1 : g.n;
    p.npix = p.merge ? g.n * pix : pix;
    p.cand = &taps_candidate(e, kg, p.npix);
    const Ukernel<T>& u = *p.cand->ukr;
    p.mr = u.mr, p.nr = u.nr, p.taps = g.r * g.s, p.kd = g.kd();
    p.nt = useful_threads(kg, p.npix, p.kd, e, nthreads);
    p.grid = direct_grid(p.nt, kg, p.npix, p.kd, p.mr, p.nr, *p.cand, u.taps_half != nullptr, sizeof(T));
    p.wb = weight_block(cg, p.taps, p.mr, ceil_div(ceil_div(kg, p.mr), p.grid.tm),
                        ceil_div(ceil_div(p.npix, p.nr), p.grid.tn), *p.cand);
    // Sizes checked: a workspace query's taps (R*S) need not be backed by any array.
    const dim_t chunk = checked_mul(checked_mul(p.wb.panels * p.mr, p.taps, kWhat), p.wb.kc, kWhat);
    p.chunk_elems = static_cast<std::size_t>(checked_round_up(chunk, kAlign / sizeof(T), kWhat));
    p.packed_bytes = static_cast<std::size_t>(
        checked_mul(checked_mul(static_cast<dim_t>(p.chunk_elems), sizeof(T), kWhat), p.nt, kWhat));
    // Stem-like layers (few channels, wide kernels): with undilated taps, whole channels and
    // packed pixels, the S taps of a kernel row are S*Cg consecutive elements, matching the weight
    // steps (r, s, c): one tap of S*Cg steps instead of S of Cg (3 for an RGB stem), which would
    // spend more on per-tap setup than on FMAs.
    p.row_runs = g.groups == 1 && g.s > 1 && g.dw == 1 && xs.c == 1 && xs.w == g.c && p.wb.kc == cg;
    const inc_t stride = xs.c < 0 ? -xs.c : xs.c;
    p.zero_elems = static_cast<std::size_t>(
        p.row_runs ? g.s * cg : checked_add(checked_mul(p.wb.kc - 1, stride, kWhat), 1, kWhat));
    checked_mul(static_cast<dim_t>(p.zero_elems), sizeof(T), kWhat);
    const dim_t table = checked_mul(p.taps, static_cast<dim_t>(sizeof(dim_t) + p.nr * sizeof(T*)), kWhat);
    p.table_bytes = static_cast<std::size_t>(checked_round_up(table, kAlign, kWhat));
    p.scratch_bytes = static_cast<std::size_t>(checked_mul(static_cast<dim_t>(p.table_bytes), p.nt, kWhat));
    return p;
}

// The image side of one (block, group): output pixels are numbered q = img*pixels + ho*wo_n + wo
// within the block; x points at the block's first image and the group's first channel. The output
// extents are kept here because each is a division (ho(), wo(), pixels()), and fill_taps runs
// once per pixel tile.
template <typename T>
struct PixelSource {
    const ConvGeom* g;
    const T* x;
    Strides4 xs;
    const T* zero;  // the zero column, as seen with stride xs.c
    dim_t ho_n, wo_n, pix;
};

// Where output pixel q of a block lies. A thread's tiles are consecutive, so its cursor is divided
// out once and then advanced tile by tile (instead of four 64-bit divisions per tile).
struct PixelPos {
    dim_t img, ho, wo;
};

template <typename T>
PixelPos pixel_pos(const PixelSource<T>& src, dim_t q) {
    return {q / src.pix, (q % src.pix) / src.wo_n, q % src.wo_n};
}

template <typename T>
void advance(const PixelSource<T>& src, PixelPos& p, dim_t n) {
    p.wo += n;
    while (p.wo >= src.wo_n) {
        p.wo -= src.wo_n;
        if (++p.ho == src.ho_n) p.ho = 0, ++p.img;
    }
}

// The taps a micro-kernel call reduces over: `kept` of them, `kc` steps each.
struct TapList {
    dim_t kept, kc;
};

// Fills the tap table of the nr output pixels from `at` for `kc` channels from c0: per kept tap,
// its offset in the packed weight panel (tap * tap_step + c_step) and NR column pointers (pixels
// past nr repeat the last one; their results are never stored). With row_runs, a tile whose pixels
// all see their S taps inside the image gets one tap per kernel row, S*kc steps long.
//
// Most tiles lie in one output row (rows of 56-224 pixels, tiles of 6-12): they share the input
// row of each tap and their columns step by the stride, so a tap row outside the image is dropped
// whole and a tap inside on both end pixels is inside for all, and its pointers are one stride
// apart, without per-pixel tests. The general loop takes tiles that wrap to the next row or image.
// Measured (Zen 4, 1 thread, MobileNetV2's stem 3 -> 32, 3x3/2 on 224x224 NHWC, a plan, medians of
// 300 calls): 365 -> 311-316 us; `perf` had put 29% of that layer's time in this function.
template <typename T>
TapList fill_taps(const PixelSource<T>& src, PixelPos at, dim_t nr, dim_t NR, dim_t c0, dim_t kc, bool row_runs,
                  dim_t tap_step, dim_t c_step, dim_t* a_off, const T** b) {
    const ConvGeom& g = *src.g;
    dim_t kept = 0;
    if (at.wo + nr <= src.wo_n) {
        const dim_t ih0 = at.ho * g.sh - g.pt, iw0 = at.wo * g.sw - g.pl, span = (nr - 1) * g.sw;
        const T* base = src.x + at.img * src.xs.n + c0 * src.xs.c;
        const bool rows_inside = row_runs && iw0 >= 0 && iw0 + span + g.s <= g.w;
        const dim_t s_taps = rows_inside ? 1 : g.s;
        const inc_t step = g.sw * src.xs.w;
        for (dim_t r = 0; r < g.r; ++r) {
            const dim_t ih = ih0 + r * g.dh;
            if (ih < 0 || ih >= g.h) continue;  // no pixel of the tile sees this kernel row
            const T* row = base + ih * src.xs.h;
            for (dim_t s = 0; s < s_taps; ++s) {
                const T** bt = b + kept * NR;
                const dim_t iw = iw0 + s * g.dw;
                if (iw >= 0 && iw + span < g.w) {
                    const T* p = row + iw * src.xs.w;
                    for (dim_t j = 0; j < nr; ++j) bt[j] = p + j * step;
                } else {
                    bool any = false;
                    for (dim_t j = 0; j < nr; ++j) {
                        const dim_t c = iw + j * g.sw;
                        const bool inside = c >= 0 && c < g.w;
                        bt[j] = inside ? row + c * src.xs.w : src.zero;
                        any |= inside;
                    }
                    if (!any) continue;
                }
                for (dim_t j = nr; j < NR; ++j) bt[j] = bt[nr - 1];
                a_off[kept++] = (r * g.s + s) * tap_step + c_step;
            }
        }
        return {kept, rows_inside ? g.s * kc : kc};
    }
    dim_t ih0[kMaxNr], iw0[kMaxNr];
    const T* base[kMaxNr];
    dim_t img = at.img, ho = at.ho, wo = at.wo;
    bool rows_inside = row_runs;
    for (dim_t j = 0; j < NR; ++j) {
        if (j < nr) {
            ih0[j] = ho * g.sh - g.pt, iw0[j] = wo * g.sw - g.pl;
            base[j] = src.x + img * src.xs.n + c0 * src.xs.c;
            rows_inside &= iw0[j] >= 0 && iw0[j] + g.s <= g.w;
            if (++wo == src.wo_n) {
                wo = 0;
                if (++ho == src.ho_n) ho = 0, ++img;
            }
        } else {
            ih0[j] = ih0[j - 1], iw0[j] = iw0[j - 1], base[j] = base[j - 1];
        }
    }
    const dim_t s_taps = rows_inside ? 1 : g.s;  // taps per kernel row
    for (dim_t r = 0; r < g.r; ++r)
        for (dim_t s = 0; s < s_taps; ++s) {
            const T** bt = b + kept * NR;
            bool any = false;
            for (dim_t j = 0; j < NR; ++j) {
                const dim_t ih = ih0[j] + r * g.dh, iw = iw0[j] + s * g.dw;
                const bool inside = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
                bt[j] = inside ? base[j] + ih * src.xs.h + iw * src.xs.w : src.zero;
                any |= inside;
            }
            if (any) a_off[kept++] = (r * g.s + s) * tap_step + c_step;
        }
    return {kept, rows_inside ? g.s * kc : kc};
}

// The part of the next weight block that the kernel calls of the current block prefetch: the
// block's K panels are contiguous in a plan's packing, and on layers with few pixel tiles (the
// 7x7 and 14x14 stages: 5-17 tiles of 12) each weight is used by so few FMAs that, read on demand,
// the block's first pass stalls on memory while the other passes find it in L2. Spread over every
// call of the current block, the next one streams in beside the FMAs instead. Measured (Emerald
// Rapids, 1 thread, plans cycled so that the weights come from memory as in a network):
// ResNet-50's 1x1 2048->512 at 7x7 0.94-0.97 -> 0.65-0.68 ms, 1024->256 at 14x14 0.61-0.67 ->
// 0.57-0.58, the 3x3 512 at 7x7 1.84-1.89 -> 1.70-1.75; no loss with the weights in L2. At most a
// quarter of L2 (the block budget) is prefetched, so that the current block is not evicted by the next.
struct NextBlock {
    const char* at = nullptr;
    dim_t lines = 0;     // left to prefetch
    dim_t per_call = 0;  // lines per kernel call
    L2Prefetch take() {
        const dim_t n = std::min(lines, per_call);
        const L2Prefetch pf{at, n};
        at += 64 * n, lines -= n;
        return pf;
    }
};

template <typename T>
NextBlock next_block(const DirectPlan<T>& P, const T* group_panels, dim_t g1, dim_t kp1, dim_t tiles, dim_t panels,
                     dim_t chunks) {
    if (g1 >= kp1) return {};
    const dim_t g2 = std::min(kp1, g1 + P.wb.panels);
    const dim_t budget = P.cand->blk.mc * P.cand->blk.kc * static_cast<dim_t>(sizeof(T));
    const dim_t bytes = std::min((g2 - g1) * P.mr * P.kd * static_cast<dim_t>(sizeof(T)), budget);
    const dim_t calls = tiles * panels * chunks;
    NextBlock nb;
    nb.at = reinterpret_cast<const char*>(group_panels + g1 * P.mr * P.kd);
    nb.lines = ceil_div(bytes, 64);
    nb.per_call = ceil_div(nb.lines, calls);
    return nb;
}

}  // namespace

template <typename T>
void conv_direct(const ConvGeom& g, const ConvIO<T>& io, const PackedWeights<T>* pw, const Engine<T>& e,
                 int nthreads) {
    const dim_t kg = g.kg(), cg = g.cg();
    // A plan's panels for the chosen kernel (packed by its first call), or, without a plan, the
    // weights packed here block by block.
    const DirectPlan<T> P =
        plan_direct(g, io.xs, io.ys, e, nthreads, io.r == nullptr || io.rs.n == g.pixels() * io.rs.w);
    const T* prepacked = pw ? pw->find(P.cand->ukr, true, 0) : nullptr;
    const bool pack = prepacked == nullptr;  // weights packed by this call, block by block
    const Ukernel<T>& u = *P.cand->ukr;
    const dim_t MR = P.mr, NR = P.nr, kd = P.kd;

    char* packing = pack ? static_cast<char*>(workspace(P.packed_bytes, Slot::packing)) : nullptr;
    char* scratch = static_cast<char*>(workspace(P.scratch_bytes, Slot::scratch));
    const T* zbuf = static_cast<const T*>(zero_block(P.zero_elems * sizeof(T)));
    const T* zero = io.xs.c < 0 && !P.row_runs ? zbuf + (P.wb.kc - 1) * -io.xs.c : zbuf;
    const dim_t k_panels = ceil_div(kg, MR), tiles = ceil_div(P.npix, NR);
    [[maybe_unused]] const bool team = P.nt > 1;  // (read only with OpenMP)
    const bool epilogue = io.ep.active() || io.r != nullptr;
    const dim_t group_stride = round_up(kg, MR) * kd;  // a plan's packed weights per group
    const dim_t ho_n = g.ho(), wo_n = g.wo(), pix = g.pixels();

    auto body = [&](int tid) {
        T* chunk = pack ? reinterpret_cast<T*>(packing) + P.chunk_elems * tid : nullptr;
        char* table = scratch + P.table_bytes * tid;
        dim_t* a_off = reinterpret_cast<dim_t*>(table);
        const T** bptr = reinterpret_cast<const T**>(a_off + P.taps);
        const int ti = tid % P.grid.tm, tj = tid / P.grid.tm;
        dim_t kp0, kp1, jp0, jp1;
        split(k_panels, P.grid.tm, ti, &kp0, &kp1);
        split(tiles, P.grid.tn, tj, &jp0, &jp1);
        if (kp0 == kp1 || jp0 == jp1) return;

        for (dim_t blk = 0; blk < P.blocks; ++blk)
            for (dim_t grp = 0; grp < g.groups; ++grp) {
                const PixelSource<T> src{&g, io.x + blk * io.xs.n + grp * cg * io.xs.c, io.xs, zero, ho_n, wo_n, pix};
                T* y = io.y + blk * io.ys.n + grp * kg * io.ys.c;
                const T* wg = io.w + grp * kg * kd;
                Epilogue<T> gep = io.ep;
                gep.along_rows = true;
                // C (channels x pixels q of the block): the residual at rs.c along rows, rs.w along q.
                gep.res = io.r ? io.r + blk * io.rs.n : nullptr, gep.rs_r = io.rs.c, gep.cs_r = io.rs.w;
                gep = gep.at(grp * kg, 0);
                for (dim_t g0 = kp0; g0 < kp1; g0 += P.wb.panels) {
                    const dim_t g1 = std::min(kp1, g0 + P.wb.panels);
                    // The next weight block, warmed into L2 while this one computes (prepacked
                    // weights only: per-call packing reads w itself).
                    NextBlock nb = pack ? NextBlock{} : next_block(P, prepacked + grp * group_stride, g1, kp1,
                                                                     jp1 - jp0, g1 - g0, ceil_div(cg, P.wb.kc));
                    for (dim_t c0 = 0; c0 < cg; c0 += P.wb.kc) {
                        const dim_t kc = std::min(P.wb.kc, cg - c0);
                        const T beta = c0 == 0 ? T(0) : T(1);
                        const bool last = c0 + kc == cg;
                        // K panel kp's steps (tap, channel) start at panels + (kp - g0) * pstride.
                        const T* panels;
                        dim_t pstride, tap_step, c_step;
                        if (pack) {
                            const dim_t i0 = g0 * MR;
                            pack_weight_chunk(wg, g, u.isa, MR, i0, std::min(kg, g1 * MR) - i0, c0, kc, chunk);
                            panels = chunk, pstride = MR * P.taps * kc, tap_step = kc * MR, c_step = 0;
                        } else {
                            panels = prepacked + grp * group_stride + g0 * MR * kd;
                            pstride = MR * kd, tap_step = cg * MR, c_step = c0 * MR;
                        }
                        PixelPos at = pixel_pos(src, jp0 * NR);
                        for (dim_t jp = jp0; jp < jp1; ++jp, advance(src, at, NR)) {
                            const dim_t q0 = jp * NR, nr = std::min(NR, P.npix - q0);
                            const TapList tl =
                                fill_taps(src, at, nr, NR, c0, kc, P.row_runs, tap_step, c_step, a_off, bptr);
                            for (dim_t kp = g0; kp < g1; ++kp) {
                                const dim_t i0 = kp * MR, mr = std::min(MR, kg - i0);
                                const auto kern = nr <= u.narrow_nr && u.taps_narrow ? u.taps_narrow
                                                  : mr <= MR / 2 && u.taps_half          ? u.taps_half
                                                                                         : u.taps;
                                Epilogue<T> et;
                                const Epilogue<T>* ep = nullptr;
                                if (epilogue && last) et = gep.at(i0, q0), ep = &et;
                                kern(tl.kept, tl.kc, panels + (kp - g0) * pstride, a_off, bptr, io.xs.c, beta,
                                     y + q0 * io.ys.w + i0 * io.ys.c, io.ys.c, io.ys.w, mr, nr, ep, nb.take());
                            }
                        }
                    }
                }
            }
    };

#ifdef _OPENMP
    if (team) {
        // The parts share no barrier and each has its own buffers, so a smaller team than asked
        // (OMP_THREAD_LIMIT, OMP_DYNAMIC, nesting) runs every part all the same, some threads two.
#pragma omp parallel num_threads(P.nt)
        for (int part = omp_get_thread_num(); part < P.nt; part += omp_get_num_threads()) body(part);
        return;
    }
#endif
    body(0);
}

template <typename T>
std::size_t conv_direct_workspace(const ConvGeom& g, const Engine<T>& e, int nthreads) {
    // Contiguous input and output in the layer's layout, as the workspace query assumes.
    const dim_t hw = g.h * g.w, pix = g.pixels();
    const Strides4 xs = g.nhwc ? Strides4{hw * g.c, 1, g.w * g.c, g.c} : Strides4{hw * g.c, hw, g.w, 1};
    const Strides4 ys = g.nhwc ? Strides4{pix * g.k, 1, g.wo() * g.k, g.k} : Strides4{pix * g.k, pix, g.wo(), 1};
    const DirectPlan<T> P = plan_direct(g, xs, ys, e, nthreads);
    const dim_t zero = checked_round_up(static_cast<dim_t>(P.zero_elems * sizeof(T)), 4096, kWhat);
    return static_cast<std::size_t>(checked_add(
        checked_add(static_cast<dim_t>(P.packed_bytes), static_cast<dim_t>(P.scratch_bytes), kWhat), zero, kWhat));
}

#define KERNELS_CONV_DIRECT(T)                                                                               \
    template void conv_direct<T>(const ConvGeom&, const ConvIO<T>&, const PackedWeights<T>*, const Engine<T>&, int); \
    template std::size_t conv_direct_workspace<T>(const ConvGeom&, const Engine<T>&, int);

KERNELS_CONV_DIRECT(float)
KERNELS_CONV_DIRECT(double)

}  // namespace kernels
