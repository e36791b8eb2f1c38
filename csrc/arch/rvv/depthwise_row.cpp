// RVV depthwise kernel for channels-contiguous images (NHWC, or any x/y with unit channel stride):
// one output row per call; the rvv row's depthwise_row (arch/table.cpp; portable form nhwc_pixel in
// conv/depthwise.cpp).
//
// Channels are the vector lanes, strip-mined by vsetvl (vector-length agnostic: C needs no
// multiple of the vector length, and one strip covers all of C where C <= VLMAX, as on long-vector
// machines). Four output pixels are computed together: each tap's weight vector is loaded once and
// feeds four independent vfmacc chains, which hides the FMA latency a single pixel's R*S-long chain
// would expose. Each pixel sums its taps in the portable loop's order (r, then s, padding taps
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

// RVV vector types are sizeless (no arrays): the P <= 4 accumulators are a0..a3, each statement
// spelled once per pixel by this macro and compiled only for pixels j < P.
#define KERNELS_RVV_PIXELS(X) X(0) X(1) X(2) X(3)

// y[pixels wo .. wo+P) of the row, channels [c0, c0 + vl); sc, sf: the channels' scale and shift
// (read only where the epilogue has them).
template <class V, int P>
KERNELS_INLINE void pixels(const RowCtx<typename V::T>& k, dim_t ho, dim_t wo, dim_t c0, std::size_t vl,
                           typename V::R sc, typename V::R sf) {
    using T = typename V::T;
    using R = typename V::R;
    static_assert(P >= 1 && P <= 4, "four accumulators");
    const ConvGeom& g = k.g;
    const inc_t xsw = k.io.xs.w;
#define KERNELS_RVV_ZERO(j) R a##j = V::set1(T(0), vl);
    KERNELS_RVV_PIXELS(KERNELS_RVV_ZERO)
    for (dim_t r = 0; r < g.r; ++r) {
        const dim_t ih = ho * g.sh - g.pt + r * g.dh;
        if (ih < 0 || ih >= g.h) continue;
        const T* row = k.x + ih * k.io.xs.h + c0;
        const T* tw = k.taps + r * g.s * g.c + c0;
        for (dim_t s = 0; s < g.s; ++s, tw += g.c) {
            const R wv = V::load(tw, vl);
            const dim_t iw0 = wo * g.sw - g.pl + s * g.dw;
            if (iw0 >= 0 && iw0 + (P - 1) * g.sw < g.w) {  // every pixel's tap inside the row
#define KERNELS_RVV_TAP(j) \
    if constexpr (j < P) a##j = V::fmacc(a##j, wv, V::load(row + (iw0 + j * g.sw) * xsw, vl), vl);
                KERNELS_RVV_PIXELS(KERNELS_RVV_TAP)
            } else {
#define KERNELS_RVV_EDGE_TAP(j)                                                                        \
    if constexpr (j < P) {                                                                             \
        const dim_t iw = iw0 + j * g.sw;                                                               \
        if (iw >= 0 && iw < g.w) a##j = V::fmacc(a##j, wv, V::load(row + iw * xsw, vl), vl);          \
    }
                KERNELS_RVV_PIXELS(KERNELS_RVV_EDGE_TAP)
            }
        }
    }
    // The epilogue in apply_channel's order; the activation by compare and merge, which keeps a
    // NaN (vfmax would return the other operand).
    const Epilogue<T>& ep = k.io.ep;
#define KERNELS_RVV_STORE_PIXEL(j)                                                                     \
    if constexpr (j < P) {                                                                             \
        R v = a##j;                                                                                    \
        if (ep.scale) v = V::mul(v, sc, vl);                                                           \
        if (ep.shift) v = V::add(v, sf, vl);                                                           \
        if (k.res) v = V::add(v, V::load(k.res + (wo + j) * k.io.rs.w + c0, vl), vl);                  \
        if (ep.act != Act::none) v = V::merge(v, T(0), V::lt(v, T(0), vl), vl);                        \
        if (ep.act == Act::relu6) v = V::merge(v, T(6), V::gt(v, T(6), vl), vl);                       \
        V::store(k.y + (wo + j) * k.io.ys.w + c0, v, vl);                                              \
    }
    KERNELS_RVV_PIXELS(KERNELS_RVV_STORE_PIXEL)
#undef KERNELS_RVV_ZERO
#undef KERNELS_RVV_TAP
#undef KERNELS_RVV_EDGE_TAP
#undef KERNELS_RVV_STORE_PIXEL
}
#undef KERNELS_RVV_PIXELS

template <class V>
void row_rvv(const ConvGeom& g, const ConvIO<typename V::T>& io, const typename V::T* taps, dim_t img, dim_t ho) {
    using T = typename V::T;
    const RowCtx<T> k{g, io, taps, io.x + img * io.xs.n, io.y + img * io.ys.n + ho * io.ys.h,
                      io.r ? io.r + img * io.rs.n + ho * io.rs.h : nullptr};
    const dim_t wo_n = g.wo();
    for (dim_t c0 = 0; c0 < g.c;) {
        const std::size_t vl = V::setvl(static_cast<std::size_t>(g.c - c0));
        const typename V::R sc = io.ep.scale ? V::load(io.ep.scale + c0, vl) : V::set1(T(1), vl);
        const typename V::R sf = io.ep.shift ? V::load(io.ep.shift + c0, vl) : V::set1(T(0), vl);
        dim_t wo = 0;
        for (; wo + 4 <= wo_n; wo += 4) pixels<V, 4>(k, ho, wo, c0, vl, sc, sf);
        for (; wo < wo_n; ++wo) pixels<V, 1>(k, ho, wo, c0, vl, sc, sf);
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
