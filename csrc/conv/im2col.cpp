// Explicit im2col lowering, parallel over rows of the lowered matrix (see im2col.hpp).
#include "im2col.hpp"

#include "../arch/clones.hpp"
#include "gather_row.hpp"

namespace kernels {

namespace {

// (Multiversioned per row: the OpenMP-outlined loop bodies below would not inherit the clones.)
template <typename T>
KERNELS_CLONES void nchw_row(const ImageView<T>& v, dim_t q, T* dst) {
    const ConvGeom& g = *v.g;
    const dim_t rs_n = g.r * g.s, c = q / rs_n, r = q % rs_n / g.s, s = q % g.s;
    const dim_t wo_n = g.wo(), ho_n = g.ho();
    const T* xc = v.x + c * v.xs.c;
    for (dim_t ho = 0; ho < ho_n; ++ho) {
        const dim_t ih = ho * g.sh - g.pt + r * g.dh;
        const T* row = ih >= 0 && ih < g.h ? xc + ih * v.xs.h : nullptr;
        gather_row(dst + ho * wo_n, row, s * g.dw - g.pl, g.sw, v.xs.w, wo_n, g.w);
    }
}

template <typename T>
KERNELS_CLONES void nhwc_row(const ImageView<T>& v, dim_t cn, dim_t pix, T* KERNELS_RESTRICT dst) {
    const ConvGeom& g = *v.g;
    const dim_t ho = pix / g.wo(), wo = pix % g.wo();
    for (dim_t r = 0; r < g.r; ++r) {
        const dim_t ih = ho * g.sh - g.pt + r * g.dh;
        for (dim_t s = 0; s < g.s; ++s, dst += cn) {
            const dim_t iw = wo * g.sw - g.pl + s * g.dw;
            if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) {
                for (dim_t c = 0; c < cn; ++c) dst[c] = T(0);
                continue;
            }
            const T* src = v.x + ih * v.xs.h + iw * v.xs.w;
            if (v.xs.c == 1)
                for (dim_t c = 0; c < cn; ++c) dst[c] = src[c];
            else
                for (dim_t c = 0; c < cn; ++c) dst[c] = src[c * v.xs.c];
        }
    }
}

}  // namespace

#define KERNELS_IM2COL(T)                                                                  \
    template <>                                                                            \
    void lower_nchw<T>(const ImageView<T>& v, dim_t cn, T* dst, [[maybe_unused]] int nt) {   \
        const dim_t rows = cn * v.g->r * v.g->s, p = v.g->pixels();                        \
        _Pragma("omp parallel for num_threads(nt) schedule(static) if(nt > 1)")             \
        for (dim_t q = 0; q < rows; ++q) nchw_row(v, q, dst + q * p);                      \
    }                                                                                      \
    template <>                                                                            \
    void lower_nhwc<T>(const ImageView<T>& v, dim_t cn, T* dst, [[maybe_unused]] int nt) {   \
        const dim_t p = v.g->pixels(), kd = cn * v.g->r * v.g->s;                          \
        _Pragma("omp parallel for num_threads(nt) schedule(static) if(nt > 1)")             \
        for (dim_t pix = 0; pix < p; ++pix) nhwc_row(v, cn, pix, dst + pix * kd);          \
    }

KERNELS_IM2COL(float)
KERNELS_IM2COL(double)

}  // namespace kernels
