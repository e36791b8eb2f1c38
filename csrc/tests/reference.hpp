// Float64 reference loops for the native engine test: GEMM and direct 2-D convolution on dense
// logical arrays, each result with the magnitude (sum of absolute terms) its error bound scales with.
#pragma once

#include <cmath>
#include <vector>

#include "../conv/conv_geometry.hpp"
#include "../core/epilogue.hpp"

namespace kernels_test {

using kernels::dim_t;

// C = alpha * A * B + beta * C0 with A m x k, B k x n, C0 m x n, all column-major and dense.
// beta == 0: C0 is not read (it may hold NaN, as the engine's C may). mag: |alpha| sum |a||b|
// + |beta| |c0| per element.
inline void ref_gemm(dim_t m, dim_t n, dim_t k, double alpha, const std::vector<double>& a,
                     const std::vector<double>& b, double beta, const std::vector<double>& c0,
                     std::vector<double>& c, std::vector<double>& mag) {
    c.assign(static_cast<std::size_t>(m * n), 0.0);
    mag.assign(c.size(), 0.0);
    for (dim_t j = 0; j < n; ++j)
        for (dim_t i = 0; i < m; ++i) {
            double s = 0.0, t = 0.0;
            if (alpha != 0.0)  // BLAS: alpha == 0 does not read A and B (they may hold NaN)
                for (dim_t p = 0; p < k; ++p) {
                    const double x = a[i + p * m], y = b[p + j * k];
                    s += x * y;
                    t += std::fabs(x * y);
                }
            double v = alpha * s, w = std::fabs(alpha) * t;
            if (beta != 0.0) v += beta * c0[i + j * m], w += std::fabs(beta * c0[i + j * m]);
            c[i + j * m] = v;
            mag[i + j * m] = w;
        }
}

// A convolution's per-channel epilogue as the caller gives it: y = act(scale * conv + shift).
struct RefEpilogue {
    std::vector<double> scale, shift;  // empty: none (scale 1, shift 0)
    kernels::Act act = kernels::Act::none;
};

// y (N x K x Ho x Wo, dense) = epilogue(conv(x, w)) with x N x C x H x W dense and w K x C/groups
// x R x S dense; mag: |scale| sum |x||w| + |shift| per output. res (nullptr: none): a residual
// N x K x Ho x Wo dense, added before the activation (mag += |res|).
inline void ref_conv(const kernels::ConvGeom& g, const std::vector<double>& x, const std::vector<double>& w,
                     const RefEpilogue& ep, std::vector<double>& y, std::vector<double>& mag,
                     const std::vector<double>* res = nullptr) {
    const dim_t ho_n = g.ho(), wo_n = g.wo(), cg = g.cg(), kg = g.kg();
    y.assign(static_cast<std::size_t>(g.n * g.k * ho_n * wo_n), 0.0);
    mag.assign(y.size(), 0.0);
    for (dim_t n = 0; n < g.n; ++n)
        for (dim_t k = 0; k < g.k; ++k)
            for (dim_t ho = 0; ho < ho_n; ++ho)
                for (dim_t wo = 0; wo < wo_n; ++wo) {
                    double s = 0.0, t = 0.0;
                    for (dim_t c = 0; c < cg; ++c)
                        for (dim_t r = 0; r < g.r; ++r)
                            for (dim_t q = 0; q < g.s; ++q) {
                                const dim_t ih = ho * g.sh - g.pt + r * g.dh, iw = wo * g.sw - g.pl + q * g.dw;
                                if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
                                const dim_t ci = (k / kg) * cg + c;
                                const double p = x[((n * g.c + ci) * g.h + ih) * g.w + iw] *
                                                 w[((k * cg + c) * g.r + r) * g.s + q];
                                s += p;
                                t += std::fabs(p);
                            }
                    const double sc = ep.scale.empty() ? 1.0 : ep.scale[k];
                    const double sh = ep.shift.empty() ? 0.0 : ep.shift[k];
                    const std::size_t o = static_cast<std::size_t>(((n * g.k + k) * ho_n + ho) * wo_n + wo);
                    const double rv = res ? (*res)[o] : 0.0;
                    double v = sc * s + sh + rv;
                    if (ep.act != kernels::Act::none && v < 0.0) v = 0.0;
                    if (ep.act == kernels::Act::relu6 && v > 6.0) v = 6.0;
                    y[o] = v;
                    mag[o] = std::fabs(sc) * t + std::fabs(sh) + std::fabs(rv);
                }
}

}  // namespace kernels_test
