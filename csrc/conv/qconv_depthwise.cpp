// Direct int8 depthwise convolution (groups == C == K): per output pixel and channel the exact
// sum over the kernel taps of (x - x_zp) * (w - w_zp[c]) in wrapping int32, padded taps skipped
// (they hold x_zp and contribute 0), then the int8 epilogue (arch/qtile_store.hpp's scalar form,
// the same values as every kernel's). The general path would run one GEMM per channel with one
// of its MR rows used; here the channel loop is innermost, contiguous in NHWC, and vectorises.
#include <cstdint>
#include <vector>

#include "../arch/qtile_store.hpp"
#include "qconv.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace kernels {

void qconv2d_depthwise(const QConvArgs& a, [[maybe_unused]] int nthreads) {
    const ConvGeom& g = a.g;
    const dim_t ho = g.ho(), wo = g.wo(), C = g.c, RS = g.r * g.s;
    // The weights and zero points as int32, tap-major (t * C + c): the inner loop reads them with unit stride.
    std::vector<std::int32_t> wt(static_cast<std::size_t>(RS * C));
    for (dim_t c = 0; c < C; ++c)
        for (dim_t t = 0; t < RS; ++t) {
            const std::int8_t v = a.w[c * RS + t];
            wt[t * C + c] = (a.w_unsigned ? static_cast<std::int32_t>(static_cast<std::uint8_t>(v)) : v) - a.w_zp[c];
        }
    QEpilogue ep;
    ep.mode = a.mode, ep.mult = a.mult, ep.inv_out_scale = a.inv_out_scale, ep.act = a.act, ep.hi = a.hi;
    ep.out_zp = a.out_zp, ep.add_ra = a.add_ra, ep.add_rb = a.add_rb, ep.add_k = a.add_k;
    const dim_t es = qelem_size(a.mode);
    const std::int32_t zx = a.x_zp;
    const dim_t rows = g.n * ho;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && rows * wo * C * RS > (1 << 18))
    {
        std::vector<std::uint32_t> acc(static_cast<std::size_t>(C));
#pragma omp for schedule(static)
        for (dim_t row = 0; row < rows; ++row) {
            const dim_t img = row / ho, oh = row % ho;
            for (dim_t ow = 0; ow < wo; ++ow) {
                for (dim_t c = 0; c < C; ++c) acc[c] = a.bias ? static_cast<std::uint32_t>(a.bias[c]) : 0u;
                for (dim_t r = 0; r < g.r; ++r) {
                    const dim_t ih = oh * g.sh - g.pt + r * g.dh;
                    if (ih < 0 || ih >= g.h) continue;
                    for (dim_t s = 0; s < g.s; ++s) {
                        const dim_t iw = ow * g.sw - g.pl + s * g.dw;
                        if (iw < 0 || iw >= g.w) continue;
                        const std::uint8_t* px = a.x + img * a.xs.n + ih * a.xs.h + iw * a.xs.w;
                        const std::int32_t* wr = wt.data() + (r * g.s + s) * C;
                        if (a.x_signed)
                            for (dim_t c = 0; c < C; ++c)
                                acc[c] += static_cast<std::uint32_t>((static_cast<std::int8_t>(px[c * a.xs.c]) - zx) * wr[c]);
                        else
                            for (dim_t c = 0; c < C; ++c)
                                acc[c] += static_cast<std::uint32_t>((static_cast<std::int32_t>(px[c * a.xs.c]) - zx) * wr[c]);
                    }
                }
                const dim_t pix = oh * wo + ow;
                char* y = static_cast<char*>(a.y) + (img * a.ys.n + pix * a.ys.w) * es;
                const float* res = a.res ? a.res + img * a.rs.n + pix * a.rs.w : nullptr;
                const std::uint8_t* skip = a.skip ? a.skip + img * a.ss.n + pix * a.ss.w : nullptr;
                for (dim_t c = 0; c < C; ++c)
                    qstore_one(static_cast<std::int32_t>(acc[c]), ep, c, res ? res + c * a.rs.c : nullptr,
                               skip ? skip + c * a.ss.c : nullptr,
                               y + c * a.ys.c * es);
            }
        }
    }
}

}  // namespace kernels
