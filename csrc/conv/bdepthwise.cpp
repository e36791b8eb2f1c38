// Direct bf16 depthwise convolution (conv/bdepthwise.hpp): portable loops whose innermost runs over
// contiguous channels (NHWC) or output columns (NCHW), so that they vectorise; images and rows
// (NHWC) or image-channel planes (NCHW) are split between threads.
#include "bdepthwise.hpp"

#include <algorithm>
#include <vector>

#include "../arch/bukernel.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace kernels {

namespace {

// The epilogue and the store of a run of outputs v[0:len): channel ch0 + t*dch (dch 0: one channel),
// output element y_off + t*y_step, residual r_off + t*r_step. Loops by step, each one vectorisable.
void finish_run(const BDepthwiseArgs& a, float* KERNELS_RESTRICT v, dim_t len, dim_t ch0, dim_t dch, inc_t y_off,
                inc_t y_step, inc_t r_off, inc_t r_step) {
    if (a.scale) {
        if (dch) for (dim_t t = 0; t < len; ++t) v[t] *= a.scale[ch0 + t];
        else for (dim_t t = 0; t < len; ++t) v[t] *= a.scale[ch0];
    }
    if (a.shift) {
        if (dch) for (dim_t t = 0; t < len; ++t) v[t] += a.shift[ch0 + t];
        else for (dim_t t = 0; t < len; ++t) v[t] += a.shift[ch0];
    }
    if (a.res) {
        const float* r = a.res + r_off;
        if (r_step == 1) for (dim_t t = 0; t < len; ++t) v[t] += r[t];
        else for (dim_t t = 0; t < len; ++t) v[t] += r[t * r_step];
    }
    if (a.act != Act::none)
        for (dim_t t = 0; t < len; ++t) v[t] = activate(v[t], a.act);
    if (a.y_bf16) {
        std::uint16_t* y = static_cast<std::uint16_t*>(a.y) + y_off;
        if (y_step == 1) for (dim_t t = 0; t < len; ++t) y[t] = f32_to_bf16(v[t]);
        else for (dim_t t = 0; t < len; ++t) y[t * y_step] = f32_to_bf16(v[t]);
    } else {
        float* y = static_cast<float*>(a.y) + y_off;
        if (y_step == 1) for (dim_t t = 0; t < len; ++t) y[t] = v[t];
        else for (dim_t t = 0; t < len; ++t) y[t * y_step] = v[t];
    }
}

// One output pixel row (n, ho), channels innermost: acc[wo][c].
void row_channels(const BDepthwiseArgs& a, const std::vector<float>& wt, dim_t n, dim_t ho, std::vector<float>& acc) {
    const dim_t C = a.c;
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (dim_t r = 0; r < a.r; ++r) {
        const dim_t hi = ho * a.sh - a.top + r * a.dh;
        if (hi < 0 || hi >= a.h) continue;
        for (dim_t wo = 0; wo < a.wo; ++wo) {
            float* ac = acc.data() + wo * C;
            for (dim_t s = 0; s < a.s; ++s) {
                const dim_t wi = wo * a.sw - a.left + s * a.dw;
                if (wi < 0 || wi >= a.w) continue;
                const std::uint16_t* xp = a.x + n * a.xn + hi * a.xh + wi * a.xw;
                const float* tp = wt.data() + (r * a.s + s) * C;  // taps as (R, S, C)
                if (a.xc == 1) {
#pragma GCC ivdep
                    for (dim_t c = 0; c < C; ++c) ac[c] += bf16_to_f32(xp[c]) * tp[c];
                } else {
                    for (dim_t c = 0; c < C; ++c) ac[c] += bf16_to_f32(xp[c * a.xc]) * tp[c];
                }
            }
        }
    }
    for (dim_t wo = 0; wo < a.wo; ++wo)
        finish_run(a, acc.data() + wo * C, C, 0, 1, n * a.yn + ho * a.yh + wo * a.yw, a.yc,
                   n * a.rn + ho * a.rh + wo * a.rw, a.rc);
}

// One output plane (n, c), columns innermost: acc[wo] per row.
void plane_columns(const BDepthwiseArgs& a, dim_t n, dim_t ch, std::vector<float>& acc) {
    const std::uint16_t* taps = a.taps + ch * a.r * a.s;
    for (dim_t ho = 0; ho < a.ho; ++ho) {
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (dim_t r = 0; r < a.r; ++r) {
            const dim_t hi = ho * a.sh - a.top + r * a.dh;
            if (hi < 0 || hi >= a.h) continue;
            const std::uint16_t* xrow = a.x + n * a.xn + ch * a.xc + hi * a.xh;
            for (dim_t s = 0; s < a.s; ++s) {
                const float t = bf16_to_f32(taps[r * a.s + s]);
                // wo whose input column wo*sw - left + s*dw lies in [0, w)
                const dim_t off = s * a.dw - a.left;
                dim_t lo = off >= 0 ? 0 : (-off + a.sw - 1) / a.sw;
                dim_t hi_ = a.w - 1 - off < 0 ? 0 : (a.w - 1 - off) / a.sw + 1;
                hi_ = std::min(hi_, a.wo);
                if (a.sw == 1 && a.xw == 1) {
                    const std::uint16_t* xp = xrow + off;
#pragma GCC ivdep
                    for (dim_t wo = lo; wo < hi_; ++wo) acc[wo] += bf16_to_f32(xp[wo]) * t;
                } else {
                    for (dim_t wo = lo; wo < hi_; ++wo) acc[wo] += bf16_to_f32(xrow[(wo * a.sw + off) * a.xw]) * t;
                }
            }
        }
        finish_run(a, acc.data(), a.wo, ch, 0, n * a.yn + ch * a.yc + ho * a.yh, a.yw, n * a.rn + ch * a.rc + ho * a.rh,
                   a.rw);
    }
}

}  // namespace

void bf16_depthwise(const BDepthwiseArgs& a, bool channels_inner, [[maybe_unused]] int nthreads) {
    if (channels_inner) {
        std::vector<float> wt(static_cast<std::size_t>(a.r * a.s * a.c));
        for (dim_t c = 0; c < a.c; ++c)
            for (dim_t t = 0; t < a.r * a.s; ++t) wt[t * a.c + c] = bf16_to_f32(a.taps[c * a.r * a.s + t]);
        const dim_t rows = a.n * a.ho;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && rows > 1)
        {
            std::vector<float> acc(static_cast<std::size_t>(a.wo * a.c));
#pragma omp for schedule(static)
            for (dim_t t = 0; t < rows; ++t) row_channels(a, wt, t / a.ho, t % a.ho, acc);
        }
    } else {
        const dim_t planes = a.n * a.c;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && planes > 1)
        {
            std::vector<float> acc(static_cast<std::size_t>(a.wo));
#pragma omp for schedule(static)
            for (dim_t t = 0; t < planes; ++t) plane_columns(a, t / a.c, t % a.c, acc);
        }
    }
}

}  // namespace kernels
