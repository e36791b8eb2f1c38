// Convolution driver: orients each layer as a GEMM whose vector dimension runs along the output's
// contiguous dimension, then feeds the blocked driver from the chosen operand sources.
//
//  NCHW output (K x pixels per image, pixels contiguous): C = pixels x channels, so the tile's
//    vectors run along output pixels. A = im2col^T (gathered by convGemm, or the lowered matrix,
//    or for 1x1 stride-1 layers the image itself); B = the weights, K x (c, r, s) transposed.
//  NHWC output (pixels x K, channels contiguous): C = channels x pixels. A = the weights in
//    (r, s, c) order; B = im2col (gathered, lowered, or the image), the batch merged into pixels.
#include "conv.hpp"

#include <algorithm>
#include <cstdlib>
#include <new>

#include "../core/checked.hpp"
#include "../gemm/driver.hpp"
#include "../gemm/gemm.hpp"
#include "../core/workspace.hpp"
#include "conv_direct.hpp"
#include "conv_pack.hpp"
#include "depthwise.hpp"
#include "im2col.hpp"
#include "nchw_reorder.hpp"
#include "winograd.hpp"

namespace kernels {

template <typename T>
void AlignedBuffer<T>::Free::operator()(T* p) const {
    std::free(p);
}

template <typename T>
AlignedBuffer<T>::AlignedBuffer(std::size_t n) : size(n) {
    if (n == 0) return;
    void* p = std::aligned_alloc(kAlign, round_up(n * sizeof(T), kAlign));
    if (p == nullptr) throw std::bad_alloc();
    data.reset(static_cast<T*>(p));
}

namespace {

// The epilogue of group `grp` (its first channel is grp*Kg), channels along rows or columns of C,
// with the residual `res` (nullptr: none) at strides (rs_r, cs_r) in C's orientation.
template <typename T>
Epilogue<T> group_epilogue(const Epilogue<T>& ep, dim_t first_channel, bool along_rows, const T* res = nullptr,
                           inc_t rs_r = 0, inc_t cs_r = 0) {
    Epilogue<T> e = ep;
    e.along_rows = along_rows;
    e.res = nullptr;
    e = e.at(first_channel, first_channel);
    e.res = res, e.rs_r = rs_r, e.cs_r = cs_r;
    return e;
}

// The residual of image `img`, group `grp` (nullptr when there is none).
template <typename T>
const T* group_residual(const ConvIO<T>& io, dim_t img, dim_t first_channel) {
    return io.r ? io.r + img * io.rs.n + first_channel * io.rs.c : nullptr;
}

// C/groups == 0: an empty reduction, so every output is the epilogue of zero (plus the residual).
template <typename T>
void fill_empty(const ConvGeom& g, const ConvIO<T>& io) {
    for (dim_t i = 0; i < g.n; ++i)
        for (dim_t k = 0; k < g.k; ++k)
            for (dim_t ho = 0; ho < g.ho(); ++ho)
                for (dim_t wo = 0; wo < g.wo(); ++wo) {
                    const T* r = io.r ? io.r + i * io.rs.n + k * io.rs.c + ho * io.rs.h + wo * io.rs.w : nullptr;
                    io.y[i * io.ys.n + k * io.ys.c + ho * io.ys.h + wo * io.ys.w] = io.ep.apply_channel(T(0), k, r);
                }
}

// Caps NC at 512 columns where that costs nothing, which bounds the gathered B block (hence the
// workspace) to KC x 512 elements (2 MiB in float32) instead of KC x 2048:
//  - all of A in one MC block: each packed B block is used by one A block only, so a narrower NC
//    changes no reuse (A is repacked per NC block, 1/NC of the FMAs);
//  - channels x pixels (NHWC): A is the weights, whose repacking per NC block costs 1/NC of the
//    FMAs however many MC blocks there are (VGG-16's 256- and 512-channel layers needed 8.5 MiB).
// (NCHW with more than MC pixels keeps the full NC: there A is the gathered image, whose
// re-gathering per NC block would cost real time on the 2048-channel layers.)
template <typename T>
Candidate<T> capped_nc(Candidate<T> c, dim_t m, bool a_is_weights) {
    constexpr dim_t kCappedNc = 512;
    if (a_is_weights || m <= c.blk.mc) c.blk.nc = std::min(c.blk.nc, round_up(kCappedNc, c.ukr->nr));
    return c;
}

// One image's lowered matrix (Kd x pixels) in bytes: larger than x, w and y for wide kernels over
// large padded inputs, hence checked.
template <typename T>
std::size_t lowered_bytes(dim_t kd, dim_t pix) {
    constexpr const char* what = "conv2d: the im2col lowered matrix (C/groups*R*S x Ho*Wo)";
    return static_cast<std::size_t>(checked_mul(checked_mul(kd, pix, what), static_cast<dim_t>(sizeof(T)), what));
}

// NCHW: per image and group, C (pixels x Kg) = im2col^T (pixels x Kd) * W^T (Kd x Kg).
template <typename T>
void conv_pixel_rows(const ConvGeom& g, const ConvIO<T>& io, ConvAlgo algo, const PackedWeights<T>* pw,
                     const Engine<T>& e, int nthreads) {
    const dim_t pix = g.pixels(), kg = g.kg(), cg = g.cg(), kd = g.kd();
    const Candidate<T> cand = capped_nc(e.pick(pix, kg), pix, false);
    const int nt = useful_threads(pix, kg, kd, e, nthreads);
    T* lowered = algo == ConvAlgo::im2col
                     ? static_cast<T*>(workspace(lowered_bytes<T>(kd, pix), Slot::scratch))
                     : nullptr;
    for (dim_t img = 0; img < g.n; ++img)
        for (dim_t grp = 0; grp < g.groups; ++grp) {
            const T* xg = io.x + img * io.xs.n + grp * cg * io.xs.c;
            T* yg = io.y + img * io.ys.n + grp * kg * io.ys.c;
            const T* rg = group_residual(io, img, grp * kg);
            const T* wg = io.w + grp * kg * kd;
            if ((algo == ConvAlgo::gemm || algo == ConvAlgo::im2col) && pw == nullptr) {
                // Y (Kg x pixels) = W (Kg x Kd) * X (Kd x pixels), X the image (1x1) or its lowered
                // matrix: the GEMM entry, whose unpacked path reads the weights in place for layers
                // with few pixels (7x7), where packing them per call would rival the FMAs.
                const T* b = xg;
                inc_t rs_b = io.xs.c, cs_b = io.xs.w;
                if (algo == ConvAlgo::im2col) {
                    lower_nchw(ImageView<T>{xg, io.xs, &g}, cg, lowered, nthreads);
                    b = lowered, rs_b = pix, cs_b = 1;
                }
                const GemmArgs<T> a{kg, pix,  kd,   T(1), wg,      kd,      1,
                                    b,  rs_b, cs_b, T(0), yg,      io.ys.c, io.ys.w,
                                    group_epilogue(io.ep, grp * kg, true, rg, io.rs.c, io.rs.w)};
                gemm(a, e, nthreads);
                continue;
            }
            const Tiles<T> t{pix, kg, kd, T(1), T(0), yg, io.ys.w, io.ys.c,
                             group_epilogue(io.ep, grp * kg, false, rg, io.rs.w, io.rs.c)};
            const T* packed = pw ? pw->find(cand.ukr, false, grp) : nullptr;
            auto with_weights = [&](const auto& a) {
                if (packed) run_blocked(t, a, PrepackedPanels<T>{packed, cand.ukr->nr, kd}, cand, nt);
                else run_blocked(t, a, StridedB<T>{wg, 1, kd}, cand, nt);
            };
            const ImageView<T> v{xg, io.xs, &g};
            if (algo == ConvAlgo::convgemm) {
                with_weights(PixelRowsA<T>{v});
            } else if (algo == ConvAlgo::im2col) {  // with prepacked weights
                lower_nchw(v, cg, lowered, nthreads);
                with_weights(StridedA<T>{lowered, 1, pix});
            } else {  // gemm with prepacked weights: the image's pixels are the rows of A
                with_weights(StridedA<T>{xg, io.xs.w, io.xs.c});
            }
        }
}

// NHWC 1x1 layers with at most two MR-row panels of prepacked weights (few output channels, e.g.
// MobileNetV2's 32->16 and 16->96 at 112x112): each pixel's channels would be packed into a B panel
// for at most two panels of weights to use, so the packing costs about as much as the FMAs it
// feeds. The unpacked kernel broadcasts them from the image instead, one column tile (NR pixels)
// at a time against every weight panel (lda = MR: a prepacked panel is an unpacked MR-row A).
// Zen 4, 1 thread, plans, one process alternating (packed -> unpacked): 32->16 @112 0.186 ->
// 0.153 ms, 16->96 @112 (relu6) 0.538 -> 0.506; three panels and more measured even or worse
// (24->144 @56 0.259 -> 0.264, 32->192 @28 0.113 -> 0.111).
template <typename T>
bool pointwise_reads_image(const Ukernel<T>& u, dim_t kg) {
    return u.direct != nullptr && kg <= 2 * u.mr;
}

template <typename T>
void pointwise_unpacked_image(const Ukernel<T>& u, const Tiles<T>& t, const T* panels, const StridedB<T>& x, int nt) {
    const dim_t n_tiles = ceil_div(t.n, u.nr);
    run_parts(nt, [&](int tid, int parts) {
        dim_t j0, j1;
        split(n_tiles, parts, tid, &j0, &j1);
        for (dim_t jp = j0; jp < j1; ++jp) {
            const dim_t jr = jp * u.nr, nn = std::min(u.nr, t.n - jr);
            for (dim_t ir = 0; ir < t.m; ir += u.mr) {
                const dim_t mm = std::min(u.mr, t.m - ir);
                const auto kern = u.direct_for(mm);
                Epilogue<T> et;
                const Epilogue<T>* ep = nullptr;
                if (t.ep.active()) et = t.ep.at(ir, jr), ep = &et;
                kern(t.k, t.alpha, panels + ir * t.k, u.mr, x.b + jr * x.cs, x.rs, x.cs, t.beta,
                     t.c + ir * t.rs_c + jr * t.cs_c, t.rs_c, t.cs_c, mm, nn, ep);
            }
        }
    });
}

// NHWC: per group, C (Kg x pixels) = W (Kg x Kd, taps (r, s, c)) * im2col (Kd x pixels), with the
// batch merged into the pixels when the output's images follow each other.
template <typename T>
void conv_channel_rows(const ConvGeom& g, const ConvIO<T>& io, ConvAlgo algo, const PackedWeights<T>* pw,
                       const Engine<T>& e, int nthreads) {
    const dim_t pix = g.pixels(), kg = g.kg(), cg = g.cg(), kd = g.kd();
    const bool merge = algo != ConvAlgo::im2col && io.ys.n == pix * io.ys.w &&
                       (io.r == nullptr || io.rs.n == pix * io.rs.w) &&
                       (algo != ConvAlgo::gemm || io.xs.n == g.h * g.w * io.xs.w);
    const dim_t images = merge ? 1 : g.n, npix = merge ? g.n * pix : pix;
    const Candidate<T> cand = capped_nc(e.pick(kg, npix), kg, true);
    const int nt = useful_threads(kg, npix, kd, e, nthreads);
    T* lowered = algo == ConvAlgo::im2col
                     ? static_cast<T*>(workspace(lowered_bytes<T>(kd, pix), Slot::scratch))
                     : nullptr;
    for (dim_t img = 0; img < images; ++img)
        for (dim_t grp = 0; grp < g.groups; ++grp) {
            const T* xg = io.x + img * io.xs.n + grp * cg * io.xs.c;
            T* yg = io.y + img * io.ys.n + grp * kg * io.ys.c;
            const T* rg = group_residual(io, img, grp * kg);
            const T* wg = io.w + grp * kg * kd;
            if (algo == ConvAlgo::gemm && pw == nullptr) {
                // Y (pixels x Kg) = X (pixels x Cg) * W^T (Cg x Kg).
                const GemmArgs<T> a{npix, kg,      cg,      T(1), xg,       io.xs.w,  io.xs.c,
                                    wg,   1,       cg,      T(0), yg,       io.ys.w,  io.ys.c,
                                    group_epilogue(io.ep, grp * kg, false, rg, io.rs.w, io.rs.c)};
                gemm(a, e, nthreads);
                continue;
            }
            const Tiles<T> t{kg, npix, kd, T(1), T(0), yg, io.ys.c, io.ys.w,
                             group_epilogue(io.ep, grp * kg, true, rg, io.rs.c, io.rs.w)};
            const T* packed = pw ? pw->find(cand.ukr, true, grp) : nullptr;
            if (algo == ConvAlgo::gemm && packed && pointwise_reads_image(*cand.ukr, kg)) {
                pointwise_unpacked_image(*cand.ukr, t, packed, StridedB<T>{xg, io.xs.c, io.xs.w}, nt);
                continue;
            }
            auto with_weights = [&](const auto& b) {
                if (packed) run_blocked(t, PrepackedPanels<T>{packed, cand.ukr->mr, kd}, b, cand, nt);
                else run_blocked(t, WeightRowsA<T>{wg, &g}, b, cand, nt);
            };
            const ImageView<T> v{xg, io.xs, &g};
            if (algo == ConvAlgo::convgemm) {
                with_weights(PixelColsB<T>{v});
            } else if (algo == ConvAlgo::im2col) {
                lower_nhwc(v, cg, lowered, nthreads);
                with_weights(StridedB<T>{lowered, 1, kd});
            } else {  // gemm: the image's pixels are the columns of B
                with_weights(StridedB<T>{xg, io.xs.c, io.xs.w});
            }
        }
}

}  // namespace

template <typename T>
const T* PackedWeights<T>::find(const Ukernel<T>* u, bool rows, dim_t group) const {
    const dim_t kg = geom.kg(), kd = geom.kd();
    if (kd == 0 || kg == 0) return nullptr;
    std::lock_guard<std::mutex> lock(mutex);
    for (const Entry& e : entries)
        if (e.ukr == u && e.rows == rows) return e.panels.get() + group * e.group_stride;
    const dim_t stride = round_up(kg, rows ? u->mr : u->nr) * kd;
    Entry entry{u, rows, stride, AlignedBuffer<T>(static_cast<std::size_t>(stride * geom.groups))};
    for (dim_t grp = 0; grp < geom.groups; ++grp) {
        const T* wg = w + grp * kg * kd;
        T* dst = entry.panels.get() + grp * stride;
        if (rows) WeightRowsA<T>{wg, &geom}.pack(*u, 0, kg, 0, kd, dst);
        else StridedB<T>{wg, 1, kd}.pack(*u, 0, kg, 0, kd, dst);
    }
    entries.push_back(std::move(entry));
    return entries.back().panels.get() + group * stride;
}

template <typename T>
std::shared_ptr<const PackedWeights<T>> pack_weights(const ConvGeom& g, const T* w, const Engine<T>&) {
    auto pw = std::make_shared<PackedWeights<T>>();
    pw->w = w, pw->geom = g;
    if (g.depthwise() && g.nhwc) {
        pw->taps_rsc = AlignedBuffer<T>(static_cast<std::size_t>(g.r * g.s * g.c));
        transpose_depthwise_taps(g, w, pw->taps_rsc.get());
    }
    return pw;
}

namespace {

// Whether y is written once, each element from registers with its epilogue: the depthwise kernel,
// Winograd (its output transform), NCHW planes through NHWC copies (the residual joins in the copy
// back) and empty reductions. The blocked products and the batch-reduce kernel may store partial
// sums in y first (reductions longer than a k block).
bool writes_y_once(const ConvGeom& g, ConvAlgo algo) {
    return g.kd() == 0 || algo == ConvAlgo::winograd ||
           (algo == ConvAlgo::direct && (direct_is_depthwise(g) || nchw_direct_reorders(g)));
}

// Same elements at the same addresses: strides equal along every dimension longer than 1.
bool same_strides(const ConvGeom& g, const Strides4& a, const Strides4& b) {
    return (g.n <= 1 || a.n == b.n) && (g.k <= 1 || a.c == b.c) && (g.ho() <= 1 || a.h == b.h) && (g.wo() <= 1 || a.w == b.w);
}

// residual == y (y = act(conv + y) in place) where y may be written before the residual is read:
// the residual is read from a dense copy in y's layout (one pass over y; Slot::residual).
template <typename T>
ConvIO<T> residual_read_once(const ConvGeom& g, const ConvIO<T>& io, ConvAlgo algo, int nthreads) {
    if (io.r == nullptr || io.r != io.y || !same_strides(g, io.rs, io.ys) || writes_y_once(g, algo)) return io;
    const dim_t ho_n = g.ho(), wo_n = g.wo(), pix = ho_n * wo_n;
    ConvIO<T> out = io;
    T* copy = static_cast<T*>(workspace(static_cast<std::size_t>(g.n * g.k * pix) * sizeof(T), Slot::residual));
    out.rs = g.nhwc ? Strides4{pix * g.k, 1, wo_n * g.k, g.k} : Strides4{g.k * pix, pix, wo_n, 1};
    out.r = copy;
#pragma omp parallel for collapse(2) num_threads(nthreads) schedule(static) if (nthreads > 1)
    for (dim_t i = 0; i < g.n; ++i)
        for (dim_t k = 0; k < g.k; ++k)
            for (dim_t h = 0; h < ho_n; ++h)
                for (dim_t w = 0; w < wo_n; ++w)
                    copy[i * out.rs.n + k * out.rs.c + h * out.rs.h + w * out.rs.w] =
                        io.r[i * io.rs.n + k * io.rs.c + h * io.rs.h + w * io.rs.w];
    return out;
}

}  // namespace

template <typename T>
void conv2d(const ConvGeom& g, const ConvIO<T>& io_in, ConvAlgo algo, const PackedWeights<T>* pw,
            const Engine<T>& e, int nthreads) {
    if (g.n == 0 || g.k == 0 || g.ho() <= 0 || g.wo() <= 0) return;
    const ConvIO<T> io = residual_read_once(g, io_in, algo, nthreads);
    if (g.kd() == 0) return fill_empty(g, io);
    if (algo == ConvAlgo::winograd)
        return g.nhwc ? conv_winograd(g, io, pw, e, nthreads) : conv_reordered(g, io, pw, e, nthreads, &conv_winograd<T>);
    if (algo == ConvAlgo::direct && !direct_is_depthwise(g))
        return nchw_direct_reorders(g) ? conv_reordered(g, io, pw, e, nthreads, &conv_direct<T>)
                                       : conv_direct(g, io, pw, e, nthreads);
    if (algo == ConvAlgo::direct) {
        const T* taps = pw && pw->taps_rsc.size ? pw->taps_rsc.get() : nullptr;
        return depthwise_conv(g, io, taps, e.cands.front().ukr->isa, nthreads);
    }
    if (g.nhwc) conv_channel_rows(g, io, algo, pw, e, nthreads);
    else conv_pixel_rows(g, io, algo, pw, e, nthreads);
}

template <typename T>
std::size_t conv2d_workspace(const ConvGeom& g, ConvAlgo algo, const Engine<T>& e, int nthreads) {
    if (g.n == 0 || g.k == 0 || g.kd() == 0) return 0;
    if (algo == ConvAlgo::winograd) {
        return g.nhwc ? conv_winograd_workspace(g, e, nthreads)
                      : conv_reordered_workspace<T>(g, conv_winograd_workspace(nhwc_twin(g), e, nthreads));
    }
    if (algo == ConvAlgo::direct && !direct_is_depthwise(g)) {
        return nchw_direct_reorders(g)
                   ? conv_reordered_workspace<T>(g, conv_direct_workspace(nhwc_twin(g), e, nthreads))
                   : conv_direct_workspace(g, e, nthreads);
    }
    if (algo == ConvAlgo::direct) return depthwise_workspace(g, sizeof(T), nthreads);
    const dim_t pix = g.pixels(), kg = g.kg(), kd = g.kd();
    const dim_t m = g.nhwc ? kg : pix;
    const dim_t n = g.nhwc ? (algo == ConvAlgo::im2col ? pix : g.n * pix) : kg;
    const Candidate<T> cand = capped_nc(e.pick(m, n), m, g.nhwc);
    const int nt = useful_threads(m, n, kd, e, nthreads);
    const std::size_t lowered = algo == ConvAlgo::im2col ? lowered_bytes<T>(kd, pix) : 0;
    const std::size_t blocks = plan_blocks<T>(m, n, kd, cand, nt, false, false).total_bytes(nt);  // <= caches x threads
    return static_cast<std::size_t>(checked_add(static_cast<dim_t>(blocks), static_cast<dim_t>(lowered),
                                                "conv2d: the workspace"));
}

#define KERNELS_CONV(T)                                                                                   \
    template struct AlignedBuffer<T>;                                                                     \
    template struct PackedWeights<T>;                                                                     \
    template std::shared_ptr<const PackedWeights<T>> pack_weights<T>(const ConvGeom&, const T*,           \
                                                                     const Engine<T>&);                   \
    template void conv2d<T>(const ConvGeom&, const ConvIO<T>&, ConvAlgo, const PackedWeights<T>*,         \
                            const Engine<T>&, int);                                                       \
    template std::size_t conv2d_workspace<T>(const ConvGeom&, ConvAlgo, const Engine<T>&, int);

KERNELS_CONV(float)
KERNELS_CONV(double)

}  // namespace kernels
