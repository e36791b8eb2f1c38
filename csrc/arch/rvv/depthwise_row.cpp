// RVV depthwise kernel for channels-contiguous images (NHWC, or any x/y with unit channel stride):
// a channel range of one output row per call; the rvv row's depthwise_row (arch/table.cpp;
// portable form nhwc_pixel in conv/depthwise.cpp).
//
// Channels are the vector lanes, strip-mined by vsetvl (vector-length agnostic: C needs no
// multiple of the vector length, and one strip covers all of C where C <= VLMAX, as on long-vector
// machines). Interior pixels (every tap column inside the image) are computed four at a time: each
// tap's weight vector is loaded once and feeds four independent vfmacc chains, which hides the FMA
// latency a single pixel's R*S-long chain would expose, with no column test in the tap loop; the
// pixels near the left and right edges, and the interior's last 1-3, go one at a time with the
// test. (A first version tested every tap of a 4-pixel block for the edge; clang then merged the
// two paths and moved each accumulator with a vmv2r.v after every FMA.) Each pixel sums its taps in the portable loop's order (r, then s, padding taps
// skipped, from +0, one fused multiply-add per tap), and the epilogue is its order too (scale,
// shift, residual, activation, each rounded), so results equal the portable ones bit for bit
// wherever the portable build contracts its `acc += w * x` into an FMA (GCC and clang do on RISC-V).
// No 3x3 specialisation (the avx512 row has one): nothing here could measure what it would gain.
#include <algorithm>

#include "rvv.hpp"
#include "vec.hpp"

namespace kernels {

namespace {

template <typename T>
struct RowCtx {
    const ConvGeom& g;
    const ConvIO<T>& io;
    const T* taps;  // R x S x C
    const T* x;     // this image
    T* y;           // this output row
    const T* res;   // the residual of this output row (nullptr: none)
};

// The epilogue of pixel wo, channels [c0, c0 + vl), in apply_channel's order (scale, shift,
// residual, activation, each rounded); the activation by compare and merge, which keeps a NaN
// (vfmax would return the other operand).
template <class V>
KERNELS_INLINE void store_pixel(const RowCtx<typename V::T>& k, typename V::R v, dim_t wo, dim_t c0, std::size_t vl,
                                typename V::R sc, typename V::R sf) {
    using T = typename V::T;
    const Epilogue<T>& ep = k.io.ep;
    if (ep.scale) v = V::mul(v, sc, vl);
    if (ep.shift) v = V::add(v, sf, vl);
    if (k.res) v = V::add(v, V::load(k.res + wo * k.io.rs.w + c0, vl), vl);
    if (ep.act != Act::none) v = V::merge(v, T(0), V::lt(v, T(0), vl), vl);
    if (ep.act == Act::relu6) v = V::merge(v, T(6), V::gt(v, T(6), vl), vl);
    V::store(k.y + wo * k.io.ys.w + c0, v, vl);
}

// One pixel wo, channels [c0, c0 + vl), any position: taps outside the image are skipped.
template <class V>
void edge_pixel(const RowCtx<typename V::T>& k, dim_t ho, dim_t wo, dim_t c0, std::size_t vl, typename V::R sc,
                typename V::R sf) {
    using T = typename V::T;
    const ConvGeom& g = k.g;
    typename V::R a = V::set1(T(0), vl);
    for (dim_t r = 0; r < g.r; ++r) {
        const dim_t ih = ho * g.sh - g.pt + r * g.dh;
        if (ih < 0 || ih >= g.h) continue;
        const T* row = k.x + ih * k.io.xs.h + c0;
        const T* tw = k.taps + r * g.s * g.c + c0;
        for (dim_t s = 0; s < g.s; ++s, tw += g.c) {
            const dim_t iw = wo * g.sw - g.pl + s * g.dw;
            if (iw >= 0 && iw < g.w) a = V::fmacc(a, V::load(tw, vl), V::load(row + iw * k.io.xs.w, vl), vl);
        }
    }
    store_pixel<V>(k, a, wo, c0, vl, sc, sf);
}

// Pixels wo .. wo+3, channels [c0, c0 + vl), whose every tap column lies inside the image (only
// rows are tested): per tap one weight load feeding four independent vfmacc chains, no branch.
// RVV vector types are sizeless (no arrays): the accumulators are named a0..a3.
template <class V>
void interior4(const RowCtx<typename V::T>& k, dim_t ho, dim_t wo, dim_t c0, std::size_t vl, typename V::R sc,
               typename V::R sf) {
    using T = typename V::T;
    using R = typename V::R;
    const ConvGeom& g = k.g;
    const inc_t xsw = k.io.xs.w, pix = g.sw * xsw, tap = g.dw * xsw;  // element steps between pixels, taps
    R a0 = V::set1(T(0), vl), a1 = a0, a2 = a0, a3 = a0;
    for (dim_t r = 0; r < g.r; ++r) {
        const dim_t ih = ho * g.sh - g.pt + r * g.dh;
        if (ih < 0 || ih >= g.h) continue;
        const T* p = k.x + ih * k.io.xs.h + (wo * g.sw - g.pl) * xsw + c0;  // pixel wo's tap s = 0
        const T* tw = k.taps + r * g.s * g.c + c0;
        for (dim_t s = 0; s < g.s; ++s, tw += g.c, p += tap) {
            const R wv = V::load(tw, vl);
            a0 = V::fmacc(a0, wv, V::load(p, vl), vl);
            a1 = V::fmacc(a1, wv, V::load(p + pix, vl), vl);
            a2 = V::fmacc(a2, wv, V::load(p + 2 * pix, vl), vl);
            a3 = V::fmacc(a3, wv, V::load(p + 3 * pix, vl), vl);
        }
    }
    store_pixel<V>(k, a0, wo, c0, vl, sc, sf);
    store_pixel<V>(k, a1, wo + 1, c0, vl, sc, sf);
    store_pixel<V>(k, a2, wo + 2, c0, vl, sc, sf);
    store_pixel<V>(k, a3, wo + 3, c0, vl, sc, sf);
}

template <class V>
void row_rvv(const ConvGeom& g, const ConvIO<typename V::T>& io, const typename V::T* taps, dim_t img, dim_t ho,
             dim_t cb, dim_t ce) {
    using T = typename V::T;
    const RowCtx<T> k{g, io, taps, io.x + img * io.xs.n, io.y + img * io.ys.n + ho * io.ys.h,
                      io.r ? io.r + img * io.rs.n + ho * io.rs.h : nullptr};
    // Interior pixels [lo, hi): wo*sw - pl >= 0 and wo*sw - pl + (S-1)*dw <= W-1.
    const dim_t wo_n = g.wo(), lo = std::min(wo_n, ceil_div(g.pl, g.sw));
    const dim_t last = g.w - 1 + g.pl - (g.s - 1) * g.dw;
    const dim_t hi = last < 0 ? lo : std::max(lo, std::min(wo_n, last / g.sw + 1));
    for (dim_t c0 = cb; c0 < ce;) {
        const std::size_t vl = V::setvl(static_cast<std::size_t>(ce - c0));
        const typename V::R sc = io.ep.scale ? V::load(io.ep.scale + c0, vl) : V::set1(T(1), vl);
        const typename V::R sf = io.ep.shift ? V::load(io.ep.shift + c0, vl) : V::set1(T(0), vl);
        dim_t wo = 0;
        for (; wo < lo; ++wo) edge_pixel<V>(k, ho, wo, c0, vl, sc, sf);
        for (; wo + 4 <= hi; wo += 4) interior4<V>(k, ho, wo, c0, vl, sc, sf);
        for (; wo < wo_n; ++wo) edge_pixel<V>(k, ho, wo, c0, vl, sc, sf);
        c0 += static_cast<dim_t>(vl);
    }
}

}  // namespace

namespace rvv {

template <typename T>
depthwise_row_fn<T> depthwise_row(const ConvGeom&) {
    return &row_rvv<RvvVec<T>>;
}
template depthwise_row_fn<float> depthwise_row<float>(const ConvGeom&);
template depthwise_row_fn<double> depthwise_row<double>(const ConvGeom&);

}  // namespace rvv
}  // namespace kernels
