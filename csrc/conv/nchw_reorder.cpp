// NCHW layers run by an NHWC kernel on NHWC copies of x and y (see nchw_reorder.hpp).
#include "nchw_reorder.hpp"

#include <algorithm>

#include "../arch/clones.hpp"
#include "../core/checked.hpp"
#include "../core/workspace.hpp"

namespace kernels {

namespace {

constexpr dim_t kPlaneLimit = 64 * 64;
constexpr dim_t kTile = 16;  // 16 x 16 element tiles: one cache line per row of a float tile

// dst[(p * C) + c] = src[c * cs + p * ps] for one row's pixels p in [0, n) and every channel: a planar ->
// interleaved transpose in tiles, so both sides move whole cache lines.
template <typename T>
KERNELS_CLONES void to_interleaved(const T* src, inc_t cs, inc_t ps, dim_t channels, dim_t n, T* dst) {
    for (dim_t pb = 0; pb < n; pb += kTile) {
        const dim_t pe = std::min(pb + kTile, n);
        for (dim_t cb = 0; cb < channels; cb += kTile) {
            const dim_t ce = std::min(cb + kTile, channels);
            for (dim_t p = pb; p < pe; ++p)
                for (dim_t c = cb; c < ce; ++c) dst[p * channels + c] = src[c * cs + p * ps];
        }
    }
}

// dst[c * cs + p * ps] = src[p * C + c] for one row's pixels p in [0, n): the way back.
template <typename T>
KERNELS_CLONES void to_planar(const T* src, dim_t channels, dim_t n, T* dst, inc_t cs, inc_t ps) {
    for (dim_t cb = 0; cb < channels; cb += kTile) {
        const dim_t ce = std::min(cb + kTile, channels);
        for (dim_t pb = 0; pb < n; pb += kTile) {
            const dim_t pe = std::min(pb + kTile, n);
            for (dim_t c = cb; c < ce; ++c)
                for (dim_t p = pb; p < pe; ++p) dst[c * cs + p * ps] = src[p * channels + c];
        }
    }
}

// The same with the rest of the epilogue: dst := act(src + residual), the residual read at the
// strides of the caller's NCHW tensor, element by element in dst's order (it may be dst itself).
template <typename T>
KERNELS_CLONES void to_planar_residual(const T* src, dim_t channels, dim_t n, T* dst, inc_t cs, inc_t ps,
                                       const T* res, inc_t rcs, inc_t rps, Act act) {
    for (dim_t cb = 0; cb < channels; cb += kTile) {
        const dim_t ce = std::min(cb + kTile, channels);
        for (dim_t pb = 0; pb < n; pb += kTile) {
            const dim_t pe = std::min(pb + kTile, n);
            for (dim_t c = cb; c < ce; ++c)
                for (dim_t p = pb; p < pe; ++p)
                    dst[c * cs + p * ps] = activate(src[p * channels + c] + res[c * rcs + p * rps], act);
        }
    }
}

// Elements of the NHWC copies of x and y, each rounded to whole cache lines.
struct CopySizes {
    std::size_t x, y;
};

template <typename T>
CopySizes copy_elems(const ConvGeom& g) {
    constexpr const char* what = "conv2d: the NHWC copies of an NCHW layer";
    const dim_t line = static_cast<dim_t>(kAlign / sizeof(T));
    const dim_t x = checked_mul(checked_mul(g.n, g.h * g.w, what), g.c, what);
    const dim_t y = checked_mul(checked_mul(g.n, g.pixels(), what), g.k, what);
    return {static_cast<std::size_t>(checked_round_up(x, line, what)), static_cast<std::size_t>(checked_round_up(y, line, what))};
}

Strides4 x_copy_strides(const ConvGeom& g) { return {g.h * g.w * g.c, 1, g.w * g.c, g.c}; }
Strides4 y_copy_strides(const ConvGeom& g) { return {g.pixels() * g.k, 1, g.wo() * g.k, g.k}; }

}  // namespace

bool nchw_direct_reorders(const ConvGeom& g) { return !g.nhwc && g.h * g.w > kPlaneLimit; }

ConvGeom nhwc_twin(const ConvGeom& g) {
    ConvGeom g2 = g;
    g2.nhwc = true;
    return g2;
}

template <typename T>
std::size_t conv_reordered_workspace(const ConvGeom& g, std::size_t nhwc_bytes) {
    const CopySizes n = copy_elems<T>(g);
    return static_cast<std::size_t>(checked_add(static_cast<dim_t>(nhwc_bytes),
                                                static_cast<dim_t>((n.x + n.y) * sizeof(T)), "conv2d: the workspace"));
}

template <typename T>
void conv_reordered(const ConvGeom& g, const ConvIO<T>& io, const PackedWeights<T>* pw, const Engine<T>& e,
                    int nthreads, NhwcConv<T> nhwc_conv) {
    const CopySizes n = copy_elems<T>(g);
    T* const xt = static_cast<T*>(workspace((n.x + n.y) * sizeof(T), Slot::reorder));
    T* const yt = xt + n.x;
    const dim_t hw = g.h * g.w, pix = g.pixels();
    ConvIO<T> io2 = io;
    io2.x = xt, io2.xs = x_copy_strides(g);
    io2.y = yt, io2.ys = y_copy_strides(g);
    // A residual joins in the copy back, which reads y's NCHW layout anyway (reading it from the
    // NHWC kernel's stores would hit the page problem above on the load side); the activation
    // follows it there, so the kernel applies only scale and shift.
    io2.r = nullptr;
    if (io.r) io2.ep.act = Act::none;
    // Rows of each image are independent: threads split them; any strides of x and y are followed.
#pragma omp parallel for collapse(2) num_threads(nthreads) schedule(static) if (nthreads > 1)
    for (dim_t img = 0; img < g.n; ++img)
        for (dim_t h = 0; h < g.h; ++h)
            to_interleaved(io.x + img * io.xs.n + h * io.xs.h, io.xs.c, io.xs.w, g.c, g.w,
                           xt + img * hw * g.c + h * g.w * g.c);
    nhwc_conv(nhwc_twin(g), io2, pw, e, nthreads);
#pragma omp parallel for collapse(2) num_threads(nthreads) schedule(static) if (nthreads > 1)
    for (dim_t img = 0; img < g.n; ++img)
        for (dim_t ho = 0; ho < g.ho(); ++ho)
            if (io.r)
                to_planar_residual(yt + img * pix * g.k + ho * g.wo() * g.k, g.k, g.wo(),
                                   io.y + img * io.ys.n + ho * io.ys.h, io.ys.c, io.ys.w,
                                   io.r + img * io.rs.n + ho * io.rs.h, io.rs.c, io.rs.w, io.ep.act);
            else
                to_planar(yt + img * pix * g.k + ho * g.wo() * g.k, g.k, g.wo(), io.y + img * io.ys.n + ho * io.ys.h,
                          io.ys.c, io.ys.w);
}

template std::size_t conv_reordered_workspace<float>(const ConvGeom&, std::size_t);
template std::size_t conv_reordered_workspace<double>(const ConvGeom&, std::size_t);
template void conv_reordered<float>(const ConvGeom&, const ConvIO<float>&, const PackedWeights<float>*,
                                    const Engine<float>&, int, NhwcConv<float>);
template void conv_reordered<double>(const ConvGeom&, const ConvIO<double>&, const PackedWeights<double>*,
                                     const Engine<double>&, int, NhwcConv<double>);

}  // namespace kernels
