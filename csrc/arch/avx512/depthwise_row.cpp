// AVX-512 depthwise kernel for channels-contiguous images (NHWC, or any x/y with unit channel
// stride): a channel range of one output row per call; the avx512 row's depthwise_row (arch/table.cpp).
//
// Channels are the vector lanes (masked at the tail, so C needs no multiple of 16). Several output
// pixels are computed together: each tap's weight vector is loaded once and feeds one independent
// FMA chain per pixel, which hides the FMA latency that a single pixel's R*S-long chain would
// expose, and every x load is a full 64-byte line of channels.
//
// 3x3 layers with undilated columns and stride 1 or 2 (MobileNet's, EfficientNet's) take a
// specialised path on the pixels whose three columns lie inside the image: eight pixels per
// block, the pixel step and tap offsets fixed at compile time so every x load is one addressing
// mode off a single pointer (folded into the FMA for full channel blocks), no bounds test inside
// the block, and the pixel block outermost so x, w and y stream through L1 in order. The generic
// per-tap loop below spent ~5x the FMA time on address arithmetic and bounds tests there.
#include <algorithm>
#include <type_traits>

#include "avx512.hpp"
#include "vec.hpp"

namespace kernels {

namespace {

template <typename T>
struct RowCtx {
    const ConvGeom& g;
    const ConvIO<T>& io;
    const T* taps;  // R x S x C
    const T* res;   // the residual of this output row (nullptr: none)
};

// The residual of output row (img, ho), or nullptr.
template <typename T>
const T* row_residual(const ConvIO<T>& io, dim_t img, dim_t ho) {
    return io.r ? io.r + img * io.rs.n + ho * io.rs.h : nullptr;
}

// y[j * ys_w] := epilogue(acc[j]) for the P pixels of a block, channels [c0, c0 + lanes of m);
// res (nullptr: none): the residual of the block's first pixel, unit channel stride, pixels at rs_w.
template <typename T, int P>
KERNELS_INLINE void store_pixels(const Epilogue<T>& ep, typename Avx512<T>::R (&acc)[P], T* y, inc_t ys_w, dim_t c0,
                                 unsigned m, const T* res, inc_t rs_w) {
    using Z = Avx512<T>;
    using R = typename Z::R;
    const R sc = ep.scale ? Z::load_mask(m, ep.scale + c0) : Z::set1(T(1));
    const R sf = ep.shift ? Z::load_mask(m, ep.shift + c0) : Z::zero();
    for (int j = 0; j < P; ++j) {
        R v = acc[j];
        if (ep.scale || ep.shift) v = Z::fma(v, sc, sf);
        if (res) v = Z::add(v, Z::load_mask(m, res + j * rs_w + c0));
        if (ep.act != Act::none) v = Z::max(Z::zero(), v);
        if (ep.act == Act::relu6) v = Z::min(Z::set1(T(6)), v);
        Z::store_mask(m, y + j * ys_w + c0, v);
    }
}

// y[pixels wo .. wo+P) of one row, channels [c0, c0 + lanes of m).
template <typename T, int P>
inline void pixels(const RowCtx<T>& k, const T* x, T* y, dim_t ho, dim_t wo, dim_t c0, unsigned m) {
    using Z = Avx512<T>;
    using R = typename Z::R;
    const ConvGeom& g = k.g;
    R acc[P];
    for (int j = 0; j < P; ++j) acc[j] = Z::zero();
    for (dim_t r = 0; r < g.r; ++r) {
        const dim_t ih = ho * g.sh - g.pt + r * g.dh;
        if (ih < 0 || ih >= g.h) continue;
        const T* row = x + ih * k.io.xs.h + c0;
        for (dim_t s = 0; s < g.s; ++s) {
            const R wv = Z::load_mask(m, k.taps + (r * g.s + s) * g.c + c0);
            const dim_t iw0 = wo * g.sw - g.pl + s * g.dw;
            if (iw0 >= 0 && iw0 + (P - 1) * g.sw < g.w) {
                for (int j = 0; j < P; ++j) acc[j] = Z::fma(wv, Z::load_mask(m, row + (iw0 + j * g.sw) * k.io.xs.w), acc[j]);
            } else {
                for (int j = 0; j < P; ++j) {
                    const dim_t iw = iw0 + j * g.sw;
                    if (iw >= 0 && iw < g.w) acc[j] = Z::fma(wv, Z::load_mask(m, row + iw * k.io.xs.w), acc[j]);
                }
            }
        }
    }
    store_pixels<T, P>(k.io.ep, acc, y + wo * k.io.ys.w, k.io.ys.w, c0, m, k.res ? k.res + wo * k.io.rs.w : nullptr,
                       k.io.rs.w);
}

template <typename T, bool kFull>
KERNELS_INLINE typename Avx512<T>::R load_x(unsigned m, const T* p) {
    if constexpr (kFull) {
        return Avx512<T>::loadu(p);
    } else {
        return Avx512<T>::load_mask(m, p);
    }
}

// y[pixels wo .. wo+P) of one row, channels [c0, c0 + lanes of m), of a 3x3 layer with undilated
// columns and column stride SW; every pixel's three input columns, from iw0 on, are inside the
// image. rows[r]: input row of kernel row r, or nullptr where it falls into the padding.
template <typename T, int SW, int P, bool kFull>
KERNELS_INLINE void pixels3x3(const RowCtx<T>& k, const T* const (&rows)[3], T* y, dim_t iw0, dim_t wo, dim_t c0,
                              unsigned m) {
    using Z = Avx512<T>;
    using R = typename Z::R;
    const inc_t xsw = k.io.xs.w;
    const dim_t c = k.g.c;
    R acc[P];
    for (int j = 0; j < P; ++j) acc[j] = Z::zero();
    for (int r = 0; r < 3; ++r) {
        if (rows[r] == nullptr) continue;
        const T* tw = k.taps + 3 * r * c + c0;
        const R w0 = Z::load_mask(m, tw), w1 = Z::load_mask(m, tw + c), w2 = Z::load_mask(m, tw + 2 * c);
        const T* p = rows[r] + iw0 * xsw + c0;
#pragma GCC unroll 8
        for (int j = 0; j < P; ++j, p += SW * xsw) {
            acc[j] = Z::fma(w0, load_x<T, kFull>(m, p), acc[j]);
            acc[j] = Z::fma(w1, load_x<T, kFull>(m, p + xsw), acc[j]);
            acc[j] = Z::fma(w2, load_x<T, kFull>(m, p + 2 * xsw), acc[j]);
        }
    }
    store_pixels<T, P>(k.io.ep, acc, y + wo * k.io.ys.w, k.io.ys.w, c0, m, k.res ? k.res + wo * k.io.rs.w : nullptr,
                       k.io.rs.w);
}

// One output row of a 3x3 layer, column stride SW, undilated columns.
template <typename T, int SW>
void row3x3_avx512(const ConvGeom& g, const ConvIO<T>& io, const T* taps, dim_t img, dim_t ho, dim_t cb, dim_t ce) {
    using Z = Avx512<T>;
    constexpr int P = 8;
    const RowCtx<T> k{g, io, taps, row_residual(io, img, ho)};
    const T* x = io.x + img * io.xs.n;
    T* y = io.y + img * io.ys.n + ho * io.ys.h;
    const T* rows[3];
    for (int r = 0; r < 3; ++r) {
        const dim_t ih = ho * g.sh - g.pt + r * g.dh;
        rows[r] = ih >= 0 && ih < g.h ? x + ih * io.xs.h : nullptr;
    }
    // Interior columns: wo*SW - pl >= 0 and wo*SW - pl + 2 < w.
    const dim_t wo_n = g.wo();
    const dim_t lo = std::min(wo_n, ceil_div(g.pl, SW));
    const dim_t hi = std::max(lo, std::min(wo_n, g.w - 3 + g.pl >= 0 ? (g.w - 3 + g.pl) / SW + 1 : 0));
    auto each_block = [&](auto run) {
        dim_t c0 = cb;
        for (; c0 + Z::W <= ce; c0 += Z::W) run(c0, Z::kAll, std::true_type{});
        if (c0 < ce) run(c0, lane_range(0, ce - c0) & Z::kAll, std::false_type{});
    };
    for (dim_t wo = 0; wo < lo; ++wo)
        each_block([&](dim_t c0, unsigned m, auto) { pixels<T, 1>(k, x, y, ho, wo, c0, m); });
    dim_t wo = lo;
    for (; wo + P <= hi; wo += P)
        each_block([&](dim_t c0, unsigned m, auto full) {
            pixels3x3<T, SW, P, decltype(full)::value>(k, rows, y, wo * SW - g.pl, wo, c0, m);
        });
    // Rows shorter than a block (7x7 and 14x14 planes: every pixel) in blocks of 4 and 2: a lone
    // pixel's 9 FMAs form one dependent chain (latency-bound, ~4x slower per pixel than a block).
    for (; wo + 4 <= hi; wo += 4)
        each_block([&](dim_t c0, unsigned m, auto full) {
            pixels3x3<T, SW, 4, decltype(full)::value>(k, rows, y, wo * SW - g.pl, wo, c0, m);
        });
    for (; wo + 2 <= hi; wo += 2)
        each_block([&](dim_t c0, unsigned m, auto full) {
            pixels3x3<T, SW, 2, decltype(full)::value>(k, rows, y, wo * SW - g.pl, wo, c0, m);
        });
    for (; wo < hi; ++wo)
        each_block([&](dim_t c0, unsigned m, auto full) {
            pixels3x3<T, SW, 1, decltype(full)::value>(k, rows, y, wo * SW - g.pl, wo, c0, m);
        });
    for (; wo < wo_n; ++wo)
        each_block([&](dim_t c0, unsigned m, auto) { pixels<T, 1>(k, x, y, ho, wo, c0, m); });
}

template <typename T>
void row_avx512(const ConvGeom& g, const ConvIO<T>& io, const T* taps, dim_t img, dim_t ho, dim_t cb, dim_t ce) {
    using Z = Avx512<T>;
    const RowCtx<T> k{g, io, taps, row_residual(io, img, ho)};
    const T* x = io.x + img * io.xs.n;
    T* y = io.y + img * io.ys.n + ho * io.ys.h;
    const dim_t wo_n = g.wo();
    for (dim_t c0 = cb; c0 < ce; c0 += Z::W) {
        const unsigned m = lane_range(0, ce - c0) & Z::kAll;
        dim_t wo = 0;
        for (; wo + 4 <= wo_n; wo += 4) pixels<T, 4>(k, x, y, ho, wo, c0, m);
        for (; wo < wo_n; ++wo) pixels<T, 1>(k, x, y, ho, wo, c0, m);
    }
}

}  // namespace

namespace avx512 {

template <typename T>
depthwise_row_fn<T> depthwise_row(const ConvGeom& g) {
    if (g.r == 3 && g.s == 3 && g.dw == 1 && g.sw == 1) return &row3x3_avx512<T, 1>;
    if (g.r == 3 && g.s == 3 && g.dw == 1 && g.sw == 2) return &row3x3_avx512<T, 2>;
    return &row_avx512<T>;
}
template depthwise_row_fn<float> depthwise_row<float>(const ConvGeom&);
template depthwise_row_fn<double> depthwise_row<double>(const ConvGeom&);

}  // namespace avx512
}  // namespace kernels
