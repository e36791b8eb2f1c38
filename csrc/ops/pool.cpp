// 2-D pooling (see pool.hpp). Two shapes of loop, both written so that GCC vectorises them for
// every KERNELS_CLONES target (arch/clones.hpp picks AVX-512/AVX2/generic at load time):
//  - channel rows (NHWC with unit channel stride): one output pixel is C contiguous values, the
//    window's pixels are added/maxed into it elementwise: vector lanes over channels;
//  - planes (NCHW, or any other strides): per output row and kernel tap, the range of output
//    columns whose input column is inside the image is computed once, so the inner loop has no
//    bounds test (unit stride: contiguous vector loads).
// Padding is never read: windows are clipped to the image, which is also what keeps any
// caller-chosen output size in bounds.
#include "pool.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "../arch/clones.hpp"

namespace kernels {

namespace {

dim_t ceil_div(dim_t a, dim_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

// The t in [0, len) with 0 <= first + t*step < size, as [lo, hi) (empty: lo == hi).
void valid_range(dim_t first, dim_t step, dim_t len, dim_t size, dim_t* lo, dim_t* hi) {
    dim_t a = first >= 0 ? 0 : ceil_div(-first, step);
    dim_t b = ceil_div(size - first, step);
    a = std::min(std::max<dim_t>(a, 0), len);
    b = std::min(std::max(b, a), len);
    *lo = a, *hi = b;
}

// The divisor of an average over the window starting at `start` along one axis (kernel k, dilation 1).
dim_t avg_count(dim_t start, dim_t k, dim_t size, dim_t pad_end, bool include_pad) {
    if (include_pad) return std::min(start + k, size + pad_end) - start;
    return std::min(start + k, size) - std::max<dim_t>(start, 0);
}

// The elementwise steps, inlined into the row functions below so that each is compiled (and
// vectorised) for the row function's clone target; restrict: the output never overlaps the input.
template <typename T>
KERNELS_INLINE void fill(T* KERNELS_RESTRICT y, dim_t len, T v) {
    for (dim_t i = 0; i < len; ++i) y[i] = v;
}

template <typename T>
KERNELS_INLINE void max_into(T* KERNELS_RESTRICT y, const T* KERNELS_RESTRICT x, dim_t len) {
    for (dim_t i = 0; i < len; ++i) y[i] = x[i] > y[i] ? x[i] : y[i];
}

template <typename T>
KERNELS_INLINE void add_into(T* KERNELS_RESTRICT y, const T* KERNELS_RESTRICT x, dim_t len) {
    for (dim_t i = 0; i < len; ++i) y[i] += x[i];
}

template <typename T>
KERNELS_INLINE void scale(T* KERNELS_RESTRICT y, dim_t len, T s) {
    for (dim_t i = 0; i < len; ++i) y[i] *= s;
}

// Strided forms of the plane loop (an output row with a W stride, or input columns sw apart).
template <typename T>
KERNELS_INLINE void max_strided(T* KERNELS_RESTRICT y, inc_t ysw, const T* KERNELS_RESTRICT x, inc_t xsw, dim_t len) {
    for (dim_t i = 0; i < len; ++i) y[i * ysw] = x[i * xsw] > y[i * ysw] ? x[i * xsw] : y[i * ysw];
}

template <typename T>
KERNELS_INLINE void add_strided(T* KERNELS_RESTRICT y, inc_t ysw, const T* KERNELS_RESTRICT x, inc_t xsw, dim_t len) {
    for (dim_t i = 0; i < len; ++i) y[i * ysw] += x[i * xsw];
}

// One output row of a channel-contiguous (NHWC) layer: each pixel is C values at yrow + ow*ysw.
// One clone dispatch per row (not per pixel and tap: those calls cost more than a 64-channel max).
template <typename T>
KERNELS_CLONES void channel_row(const PoolGeom& g, PoolKind kind, const T* xn, const PoolStrides& xs, T* yrow,
                                inc_t ysw, dim_t oh) {
    const bool is_max = kind == PoolKind::max;
    const bool inc = kind == PoolKind::avg_include_pad;
    const dim_t hs = oh * g.sh - g.pt;
    dim_t ilo, ihi;
    valid_range(hs, g.dh, g.kh, g.h, &ilo, &ihi);
    const dim_t ch = is_max ? 1 : avg_count(hs, g.kh, g.h, g.pb, inc);
    for (dim_t ow = 0; ow < g.wo; ++ow) {
        T* y = yrow + ow * ysw;
        const dim_t ws = ow * g.sw - g.pl;
        dim_t jlo, jhi;
        valid_range(ws, g.dw, g.kw, g.w, &jlo, &jhi);
        fill(y, g.c, is_max ? std::numeric_limits<T>::lowest() : T(0));
        for (dim_t i = ilo; i < ihi; ++i)
            for (dim_t j = jlo; j < jhi; ++j) {
                const T* xp = xn + (hs + i * g.dh) * xs.h + (ws + j * g.dw) * xs.w;
                if (is_max) max_into(y, xp, g.c);
                else add_into(y, xp, g.c);
            }
        if constexpr (std::is_floating_point_v<T>)  // the integer types pool max only
            if (!is_max) scale(y, g.c, T(1) / static_cast<T>(ch * avg_count(ws, g.kw, g.w, g.pr, inc)));
    }
}

// The same row when an image row is one contiguous run (xs.w == C): pooling is separable, so the
// kh input rows are first reduced into `tmp` (W*C values: a few long vector loops), then each
// output pixel reduces kw pixels of tmp. Per output pixel that is kw short loops instead of kh*kw
// (ResNet's 3x3 stem pool over 64 channels: the short loops' overhead was most of its time).
template <typename T>
KERNELS_CLONES void channel_row_separable(const PoolGeom& g, PoolKind kind, const T* xn, const PoolStrides& xs,
                                          T* yrow, inc_t ysw, dim_t oh, T* KERNELS_RESTRICT tmp) {
    const bool is_max = kind == PoolKind::max;
    const bool inc = kind == PoolKind::avg_include_pad;
    const dim_t hs = oh * g.sh - g.pt, row = g.w * g.c;
    dim_t ilo, ihi;
    valid_range(hs, g.dh, g.kh, g.h, &ilo, &ihi);
    const T init = is_max ? std::numeric_limits<T>::lowest() : T(0);
    fill(tmp, row, init);
    for (dim_t i = ilo; i < ihi; ++i) {
        const T* xr = xn + (hs + i * g.dh) * xs.h;
        if (is_max) max_into(tmp, xr, row);
        else add_into(tmp, xr, row);
    }
    const dim_t ch = is_max ? 1 : avg_count(hs, g.kh, g.h, g.pb, inc);
    for (dim_t ow = 0; ow < g.wo; ++ow) {
        T* y = yrow + ow * ysw;
        const dim_t ws = ow * g.sw - g.pl;
        dim_t jlo, jhi;
        valid_range(ws, g.dw, g.kw, g.w, &jlo, &jhi);
        fill(y, g.c, init);
        for (dim_t j = jlo; j < jhi; ++j) {
            const T* tp = tmp + (ws + j * g.dw) * g.c;
            if (is_max) max_into(y, tp, g.c);
            else add_into(y, tp, g.c);
        }
        if constexpr (std::is_floating_point_v<T>)  // the integer types pool max only
            if (!is_max) scale(y, g.c, T(1) / static_cast<T>(ch * avg_count(ws, g.kw, g.w, g.pr, inc)));
    }
}

// One output row of one (n, c) plane.
template <typename T>
KERNELS_CLONES void plane_row(const PoolGeom& g, PoolKind kind, const T* xp, const PoolStrides& xs, T* yrow,
                              inc_t ysw, dim_t oh, const T* inv_cw) {
    const bool is_max = kind == PoolKind::max;
    const dim_t hs = oh * g.sh - g.pt;
    dim_t ilo, ihi;
    valid_range(hs, g.dh, g.kh, g.h, &ilo, &ihi);
    const T init = is_max ? std::numeric_limits<T>::lowest() : T(0);
    if (ysw == 1) fill(yrow, g.wo, init);
    else
        for (dim_t o = 0; o < g.wo; ++o) yrow[o * ysw] = init;
    for (dim_t i = ilo; i < ihi; ++i) {
        const T* xrow = xp + (hs + i * g.dh) * xs.h;
        for (dim_t j = 0; j < g.kw; ++j) {
            const dim_t off = j * g.dw - g.pl;  // input column of output column o: o*sw + off
            dim_t olo, ohi;
            valid_range(off, g.sw, g.wo, g.w, &olo, &ohi);
            if (olo >= ohi) continue;
            const T* xs0 = xrow + (olo * g.sw + off) * xs.w;
            T* y0 = yrow + olo * ysw;
            const inc_t step = g.sw * xs.w;
            if (ysw == 1 && step == 1) {
                if (is_max) max_into(y0, xs0, ohi - olo);
                else add_into(y0, xs0, ohi - olo);
            } else if (is_max) {
                max_strided(y0, ysw, xs0, step, ohi - olo);
            } else {
                add_strided(y0, ysw, xs0, step, ohi - olo);
            }
        }
    }
    if (!is_max) {
        const bool inc = kind == PoolKind::avg_include_pad;
        const T ich = T(1) / static_cast<T>(avg_count(hs, g.kh, g.h, g.pb, inc));
        for (dim_t o = 0; o < g.wo; ++o) yrow[o * ysw] *= ich * inv_cw[o];
    }
}

// The plane row when input rows are contiguous (xs.w == 1): separable as channel_row_separable,
// the kh input rows reduced into tmp (W values, long vector loops), then each tap j one strided
// pass over tmp (NCHW's 3x3 stride-2 stem pool: the kh*kw strided passes were most of its time).
template <typename T>
KERNELS_CLONES void plane_row_separable(const PoolGeom& g, PoolKind kind, const T* xp, const PoolStrides& xs,
                                        T* yrow, inc_t ysw, dim_t oh, T* KERNELS_RESTRICT tmp, const T* inv_cw) {
    const bool is_max = kind == PoolKind::max;
    const dim_t hs = oh * g.sh - g.pt;
    dim_t ilo, ihi;
    valid_range(hs, g.dh, g.kh, g.h, &ilo, &ihi);
    const T init = is_max ? std::numeric_limits<T>::lowest() : T(0);
    fill(tmp, g.w, init);
    for (dim_t i = ilo; i < ihi; ++i) {
        const T* xr = xp + (hs + i * g.dh) * xs.h;
        if (is_max) max_into(tmp, xr, g.w);
        else add_into(tmp, xr, g.w);
    }
    if (ysw == 1) fill(yrow, g.wo, init);
    else
        for (dim_t o = 0; o < g.wo; ++o) yrow[o * ysw] = init;
    for (dim_t j = 0; j < g.kw; ++j) {
        const dim_t off = j * g.dw - g.pl;
        dim_t olo, ohi;
        valid_range(off, g.sw, g.wo, g.w, &olo, &ohi);
        if (olo >= ohi) continue;
        const T* t0 = tmp + olo * g.sw + off;
        T* y0 = yrow + olo * ysw;
        if (is_max) max_strided(y0, ysw, t0, g.sw, ohi - olo);
        else add_strided(y0, ysw, t0, g.sw, ohi - olo);
    }
    if (!is_max) {
        const bool inc = kind == PoolKind::avg_include_pad;
        const T ich = T(1) / static_cast<T>(avg_count(hs, g.kh, g.h, g.pb, inc));
        for (dim_t o = 0; o < g.wo; ++o) yrow[o * ysw] *= ich * inv_cw[o];
    }
}

// Below this many window reads a layer runs on the calling thread: waking the OpenMP team
// costs tens of microseconds (more on a loaded machine), as much as ~2^17 vectorised reads.
constexpr dim_t kParallelWork = 1 << 17;

}  // namespace

template <typename T>
void pool2d(const PoolGeom& g, PoolKind kind, const T* x, const PoolStrides& xs, T* y, const PoolStrides& ys, int nt) {
    if (g.n == 0 || g.c == 0 || g.ho == 0 || g.wo == 0) return;
    const dim_t work = g.n * g.c * g.ho * g.wo * g.kh * g.kw;
    if (work < kParallelWork) nt = 1;
    (void)nt;  // (read only by the OpenMP pragmas: a build without OpenMP warned it set but unused)
    if (xs.c == 1 && ys.c == 1 && g.c > 1) {
        // NHWC: threads over (image, output row); each output pixel is one channel vector.
        const dim_t rows = g.n * g.ho;
        // (tmp bounded to 2^20 values per thread; wider rows take the per-pixel path.)
        if (xs.w == g.c && g.kh > 1 && g.w * g.c <= (dim_t(1) << 20)) {
#pragma omp parallel num_threads(nt) if (nt > 1)
            {
                std::vector<T> tmp(static_cast<std::size_t>(g.w * g.c));  // per thread: one input row
#pragma omp for schedule(static)
                for (dim_t r = 0; r < rows; ++r) {
                    const dim_t img = r / g.ho, oh = r % g.ho;
                    channel_row_separable(g, kind, x + img * xs.n, xs, y + img * ys.n + oh * ys.h, ys.w, oh, tmp.data());
                }
            }
            return;
        }
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (dim_t r = 0; r < rows; ++r) {
            const dim_t img = r / g.ho, oh = r % g.ho;
            channel_row(g, kind, x + img * xs.n, xs, y + img * ys.n + oh * ys.h, ys.w, oh);
        }
        return;
    }
    // Planes: threads over (image, channel, output row). Averages: 1 / (the window's column
    // count) per output column, the same for every row (one division per column, not per output).
    const dim_t rows = g.n * g.c * g.ho;
    std::vector<T> inv_cw(kind == PoolKind::max ? 0 : static_cast<std::size_t>(g.wo));
    for (dim_t o = 0; o < static_cast<dim_t>(inv_cw.size()); ++o)
        inv_cw[o] = T(1) / static_cast<T>(avg_count(o * g.sw - g.pl, g.kw, g.w, g.pr, kind == PoolKind::avg_include_pad));
    if (xs.w == 1 && g.kh > 1 && g.w <= (dim_t(1) << 20)) {
#pragma omp parallel num_threads(nt) if (nt > 1)
        {
            std::vector<T> tmp(static_cast<std::size_t>(g.w));  // per thread: one input row
#pragma omp for schedule(static)
            for (dim_t r = 0; r < rows; ++r) {
                const dim_t oh = r % g.ho, nc = r / g.ho, img = nc / g.c, ch = nc % g.c;
                plane_row_separable(g, kind, x + img * xs.n + ch * xs.c, xs, y + img * ys.n + ch * ys.c + oh * ys.h,
                                    ys.w, oh, tmp.data(), inv_cw.data());
            }
        }
        return;
    }
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (dim_t r = 0; r < rows; ++r) {
        const dim_t oh = r % g.ho, nc = r / g.ho, img = nc / g.c, ch = nc % g.c;
        plane_row(g, kind, x + img * xs.n + ch * xs.c, xs, y + img * ys.n + ch * ys.c + oh * ys.h, ys.w, oh, inv_cw.data());
    }
}

namespace {

// One pass over the input: below this many elements (ResNet-50's 7x7x2048 is 100K) one thread
// reads it faster than a team wakes up (9 us against 140 us for 7x7x1280 with 2 threads here).
constexpr dim_t kParallelGlobal = 1 << 19;
constexpr dim_t kLanes = 16;    // independent partial sums: the reduction vectorises without -ffast-math
constexpr dim_t kBlock = 64;    // channels per task of the NHWC global pool

template <typename T>
KERNELS_CLONES T plane_sum(const T* KERNELS_RESTRICT x, dim_t len) {
    T acc[kLanes] = {};
    dim_t i = 0;
    for (; i + kLanes <= len; i += kLanes)
        for (dim_t l = 0; l < kLanes; ++l) acc[l] += x[i + l];
    T s = 0;
    for (; i < len; ++i) s += x[i];
    for (dim_t l = 0; l < kLanes; ++l) s += acc[l];
    return s;
}

// acc[0, len) = the sum over the h x w pixels at x (channel stride 1, pixel strides xs.h, xs.w).
template <typename T>
KERNELS_CLONES void channel_block_sum(T* acc, const T* x, const PoolStrides& xs, dim_t h, dim_t w, dim_t len) {
    fill(acc, len, T(0));
    for (dim_t i = 0; i < h; ++i)
        for (dim_t j = 0; j < w; ++j) add_into(acc, x + i * xs.h + j * xs.w, len);
}

}  // namespace

template <typename T>
void global_avg_pool(dim_t n, dim_t c, dim_t h, dim_t w, const T* x, const PoolStrides& xs, T* y,
                     const PoolStrides& ys, int nt) {
    if (n == 0 || c == 0) return;
    const T inv = T(1) / static_cast<T>(h * w);  // h*w == 0: 0 * inf = NaN, the mean of nothing
    if (n * c * h * w < kParallelGlobal) nt = 1;
    (void)nt;  // (read only by the OpenMP pragmas)
    if (xs.c == 1 && c > 1) {
        // NHWC: each task sums a block of channels over every pixel (vector lanes over channels).
        const dim_t blocks = (c + kBlock - 1) / kBlock, tasks = n * blocks;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (dim_t t = 0; t < tasks; ++t) {
            const dim_t img = t / blocks, c0 = (t % blocks) * kBlock, len = std::min(kBlock, c - c0);
            T acc[kBlock];
            channel_block_sum(acc, x + img * xs.n + c0, xs, h, w, len);
            for (dim_t k = 0; k < len; ++k) y[img * ys.n + (c0 + k) * ys.c] = acc[k] * inv;
        }
        return;
    }
    const dim_t planes = n * c;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (dim_t p = 0; p < planes; ++p) {
        const dim_t img = p / c, ch = p % c;
        const T* xp = x + img * xs.n + ch * xs.c;
        T s = 0;
        if (xs.w == 1 && xs.h == w) {
            s = plane_sum(xp, h * w);  // the plane is one contiguous run
        } else {
            for (dim_t i = 0; i < h; ++i)
                for (dim_t j = 0; j < w; ++j) s += xp[i * xs.h + j * xs.w];
        }
        y[img * ys.n + ch * ys.c] = s * inv;
    }
}

template void pool2d<float>(const PoolGeom&, PoolKind, const float*, const PoolStrides&, float*, const PoolStrides&, int);
template void pool2d<double>(const PoolGeom&, PoolKind, const double*, const PoolStrides&, double*, const PoolStrides&, int);
// MaxPool of quantized tensors (the QDQ pass's DQ -> MaxPool -> Q with one scale and zero point).
template void pool2d<std::uint8_t>(const PoolGeom&, PoolKind, const std::uint8_t*, const PoolStrides&, std::uint8_t*,
                                   const PoolStrides&, int);
template void pool2d<std::int8_t>(const PoolGeom&, PoolKind, const std::int8_t*, const PoolStrides&, std::int8_t*,
                                  const PoolStrides&, int);
template void global_avg_pool<float>(dim_t, dim_t, dim_t, dim_t, const float*, const PoolStrides&, float*,
                                     const PoolStrides&, int);
template void global_avg_pool<double>(dim_t, dim_t, dim_t, dim_t, const double*, const PoolStrides&, double*,
                                      const PoolStrides&, int);

}  // namespace kernels
