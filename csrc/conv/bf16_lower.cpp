// bf16 lowering (bf16_lower.hpp). NHWC rows copy C contiguous values per tap (a memcpy, or zeros
// outside the image); NCHW rows gather one output row per (c, r, s, ho) with the in-image column
// range computed once, so the inner loop has no bounds test. Rounding: the usual integer RNE on the
// float's bits, vectorised for every KERNELS_CLONES target.
#include "bf16_lower.hpp"

#include <algorithm>
#include <cstring>

#include "../arch/clones.hpp"

namespace kernels {

namespace {

dim_t ceil_div(dim_t a, dim_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

// The t in [0, len) with 0 <= first + t*step < size, as [lo, hi).
void in_range(dim_t first, dim_t step, dim_t len, dim_t size, dim_t* lo, dim_t* hi) {
    dim_t a = first >= 0 ? 0 : ceil_div(-first, step);
    dim_t b = ceil_div(size - first, step);
    a = std::min(std::max<dim_t>(a, 0), len);
    *lo = a, *hi = std::min(std::max(b, a), len);
}

void nhwc_row(const std::uint16_t* x, std::uint16_t* d, const Bf16LowerGeom& g, dim_t img, dim_t oh, dim_t ow) {
    const dim_t hs = oh * g.sh - g.pt, ws = ow * g.sw - g.pl;
    const auto bytes = static_cast<std::size_t>(g.c) * sizeof(std::uint16_t);
    for (dim_t i = 0; i < g.r; ++i) {
        const dim_t hi = hs + i * g.dh;
        for (dim_t j = 0; j < g.s; ++j, d += g.c) {
            const dim_t wi = ws + j * g.dw;
            if (hi < 0 || hi >= g.h || wi < 0 || wi >= g.w) std::memset(d, 0, bytes);
            else std::memcpy(d, x + ((img * g.h + hi) * g.w + wi) * g.c, bytes);
        }
    }
}

KERNELS_CLONES void nchw_rows(const std::uint16_t* xc, std::uint16_t* d, const Bf16LowerGeom& g, dim_t i, dim_t j) {
    // Output columns whose input column is inside the image: ow in [lo, hi).
    dim_t lo, hi;
    in_range(j * g.dw - g.pl, g.sw, g.wo, g.w, &lo, &hi);
    for (dim_t oh = 0; oh < g.ho; ++oh, d += g.wo) {
        const dim_t hrow = oh * g.sh - g.pt + i * g.dh;
        if (hrow < 0 || hrow >= g.h) {
            std::fill(d, d + g.wo, std::uint16_t(0));
            continue;
        }
        const std::uint16_t* xr = xc + hrow * g.w + (j * g.dw - g.pl);
        std::fill(d, d + lo, std::uint16_t(0));
        if (g.sw == 1) std::memcpy(d + lo, xr + lo, static_cast<std::size_t>(hi - lo) * sizeof(std::uint16_t));
        else
            for (dim_t ow = lo; ow < hi; ++ow) d[ow] = xr[ow * g.sw];
        std::fill(d + hi, d + g.wo, std::uint16_t(0));
    }
}

KERNELS_CLONES void round_span(const float* KERNELS_RESTRICT x, std::uint16_t* KERNELS_RESTRICT out, dim_t n) {
    for (dim_t i = 0; i < n; ++i) {
        std::uint32_t b;
        std::memcpy(&b, x + i, sizeof b);
        const bool nan = (b & 0x7fffffffu) > 0x7f800000u;
        const std::uint32_t rounded = (b + 0x7fffu + ((b >> 16) & 1u)) >> 16;  // ties to even; overflow -> inf
        out[i] = static_cast<std::uint16_t>(nan ? ((b >> 16) | 0x40u) : rounded);
    }
}

constexpr dim_t kParallelElems = dim_t(1) << 16;  // below: one thread (a team costs ~10 us)

}  // namespace

void bf16_im2col(const std::uint16_t* x, std::uint16_t* cols, const Bf16LowerGeom& g, bool nhwc, int nt) {
    const dim_t p = g.ho * g.wo, rsc = g.r * g.s * g.c;
    if (g.n * p * rsc < kParallelElems) nt = 1;
    if (nhwc) {
        const dim_t rows = g.n * p;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (dim_t row = 0; row < rows; ++row) {
            const dim_t img = row / p, pix = row % p;
            nhwc_row(x, cols + row * rsc, g, img, pix / g.wo, pix % g.wo);
        }
        return;
    }
    const dim_t planes = g.n * rsc;  // one (image, c, r, s) row of cols each
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (dim_t t = 0; t < planes; ++t) {
        const dim_t img = t / rsc, q = t % rsc, ch = q / (g.r * g.s), i = (q / g.s) % g.r, j = q % g.s;
        nchw_rows(x + (img * g.c + ch) * g.h * g.w, cols + t * p, g, i, j);
    }
}

void round_to_bf16(const float* x, std::uint16_t* out, dim_t n, int nt) {
    if (n < kParallelElems || nt <= 1) {
        round_span(x, out, n);
        return;
    }
    const dim_t chunk = (n + nt - 1) / nt;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < nt; ++t) {
        const dim_t i0 = std::min(n, t * chunk), i1 = std::min(n, i0 + chunk);
        if (i1 > i0) round_span(x + i0, out + i0, i1 - i0);
    }
}

}  // namespace kernels
