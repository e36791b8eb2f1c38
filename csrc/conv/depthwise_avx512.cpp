// AVX-512 depthwise kernel for channels-contiguous images (NHWC, or any x/y with unit channel
// stride): one output row per call, compiled with the AVX-512 flags only.
//
// Channels are the vector lanes (masked at the tail, so C needs no multiple of 16). Four output
// pixels are computed together: each tap's weight vector is loaded once and feeds four
// independent FMA chains (one per pixel), which hides the FMA latency that a single pixel's
// R*S-long chain would expose, and every x load is a full 64-byte line of channels.
#include "depthwise.hpp"
#include "zmm.hpp"

namespace kernels {

namespace {

template <typename T>
struct RowCtx {
    const ConvGeom& g;
    const ConvIO<T>& io;
    const T* taps;  // R x S x C
};

// y[pixels wo .. wo+P) of one row, channels [c0, c0 + lanes of m).
template <typename T, int P>
inline void pixels(const RowCtx<T>& k, const T* x, T* y, dim_t ho, dim_t wo, dim_t c0, unsigned m) {
    using Z = Zmm<T>;
    using R = typename Z::R;
    const ConvGeom& g = k.g;
    R acc[P];
    for (int j = 0; j < P; ++j) acc[j] = Z::zero();
    for (dim_t r = 0; r < g.r; ++r) {
        const dim_t ih = ho * g.sh - g.pt + r * g.dh;
        if (ih < 0 || ih >= g.h) continue;
        const T* row = x + ih * k.io.xs.h + c0;
        for (dim_t s = 0; s < g.s; ++s) {
            const R wv = Z::load(m, k.taps + (r * g.s + s) * g.c + c0);
            const dim_t iw0 = wo * g.sw - g.pl + s * g.dw;
            if (iw0 >= 0 && iw0 + (P - 1) * g.sw < g.w) {
                for (int j = 0; j < P; ++j) acc[j] = Z::fma(wv, Z::load(m, row + (iw0 + j * g.sw) * k.io.xs.w), acc[j]);
            } else {
                for (int j = 0; j < P; ++j) {
                    const dim_t iw = iw0 + j * g.sw;
                    if (iw >= 0 && iw < g.w) acc[j] = Z::fma(wv, Z::load(m, row + iw * k.io.xs.w), acc[j]);
                }
            }
        }
    }
    const Epilogue<T>& ep = k.io.ep;
    const R sc = ep.scale ? Z::load(m, ep.scale + c0) : Z::set1(T(1));
    const R sf = ep.shift ? Z::load(m, ep.shift + c0) : Z::zero();
    for (int j = 0; j < P; ++j) {
        R v = acc[j];
        if (ep.scale || ep.shift) v = Z::fma(v, sc, sf);
        if (ep.act != Act::none) v = Z::max(Z::zero(), v);
        if (ep.act == Act::relu6) v = Z::min(Z::set1(T(6)), v);
        Z::store(m, y + (wo + j) * k.io.ys.w + c0, v);
    }
}

template <typename T>
void row_avx512(const ConvGeom& g, const ConvIO<T>& io, const T* taps, dim_t img, dim_t ho) {
    using Z = Zmm<T>;
    const RowCtx<T> k{g, io, taps};
    const T* x = io.x + img * io.xs.n;
    T* y = io.y + img * io.ys.n + ho * io.ys.h;
    const dim_t wo_n = g.wo();
    for (dim_t c0 = 0; c0 < g.c; c0 += Z::W) {
        const unsigned m = lane_range(0, g.c - c0) & Z::kAll;
        dim_t wo = 0;
        for (; wo + 4 <= wo_n; wo += 4) pixels<T, 4>(k, x, y, ho, wo, c0, m);
        for (; wo < wo_n; ++wo) pixels<T, 1>(k, x, y, ho, wo, c0, m);
    }
}

}  // namespace

template <>
depthwise_row_fn<float> depthwise_row_avx512<float>() {
    return &row_avx512<float>;
}
template <>
depthwise_row_fn<double> depthwise_row_avx512<double>() {
    return &row_avx512<double>;
}

}  // namespace kernels
