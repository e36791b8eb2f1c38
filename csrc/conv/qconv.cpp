// int8 convolution: per image and group, the lowered u8 matrix (im2col, padding = the
// activations' zero point, so padded taps contribute (zp - zp) * w = 0 after compensation) or,
// for pointwise layers, the image read in place; then one int8 GEMM (gemm/qgemm.cpp) in kernel
// orientation: channels x pixels, the output written through its (n, c, pixel) strides.
#include "qconv.hpp"

#include <algorithm>

#include "../arch/qtile_store.hpp"
#include "../core/workspace.hpp"

namespace kernels {

namespace {

// Lowered matrix of group g of image img: L[j * kd + (c*R + r)*S + s] for pixel j, the weights'
// own order (so a row of w is a contiguous row of the GEMM's A).
void lower(const QConvArgs& a, dim_t img, dim_t grp, std::uint8_t pad, std::uint8_t* L) {
    const ConvGeom& g = a.g;
    const dim_t wo = g.wo(), P = g.pixels(), kd = g.kd(), cg = g.cg();
    const std::uint8_t* xi = a.x + img * a.xs.n + grp * cg * a.xs.c;
    const dim_t RS = g.r * g.s;
#pragma omp parallel for schedule(static) if (P * kd > (1 << 16))
    for (dim_t j = 0; j < P; ++j) {
        const dim_t oh = j / wo, ow = j % wo;
        std::uint8_t* row = L + j * kd;
        // Tap by tap: one bounds check per tap, and the tap's channels read along x's channel
        // stride (contiguous in NHWC), written RS apart into the row (L1-resident).
        for (dim_t r = 0; r < g.r; ++r) {
            const dim_t ih = oh * g.sh - g.pt + r * g.dh;
            for (dim_t s = 0; s < g.s; ++s) {
                const dim_t iw = ow * g.sw - g.pl + s * g.dw;
                std::uint8_t* d = row + r * g.s + s;
                if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) {
                    for (dim_t c = 0; c < cg; ++c) d[c * RS] = pad;
                } else {
                    const std::uint8_t* px = xi + ih * a.xs.h + iw * a.xs.w;
                    for (dim_t c = 0; c < cg; ++c) d[c * RS] = px[c * a.xs.c];
                }
            }
        }
    }
}

}  // namespace

void qconv2d(const QConvArgs& a, const QCandidate& cand, int nthreads) {
    const ConvGeom& g = a.g;
    const dim_t P = g.pixels(), kd = g.kd(), kg = g.kg(), cg = g.cg();
    if (g.n == 0 || g.k == 0 || P == 0) return;
    if (g.depthwise()) return qconv2d_depthwise(a, nthreads);
    const bool direct = g.pointwise() && (P == 1 || a.xs.h == g.w * a.xs.w);  // the image is the GEMM's B
    std::uint8_t* L = direct ? nullptr : static_cast<std::uint8_t*>(workspace(static_cast<std::size_t>(P * kd), Slot::scratch));
    const std::uint8_t pad = static_cast<std::uint8_t>(a.x_zp);  // the raw byte (s8 zero points wrap as the data do)
    const dim_t es = qelem_size(a.mode);
    for (dim_t img = 0; img < g.n; ++img)
        for (dim_t grp = 0; grp < g.groups; ++grp) {
            QGemmArgs q;
            q.m = kg, q.n = P, q.k = kd;
            q.a = a.w + grp * kg * kd, q.rs_a = kd, q.cs_a = 1, q.a_unsigned = a.w_unsigned;
            if (a.packed && static_cast<dim_t>(a.packed->size()) == g.groups)
                q.a_packed = (*a.packed)[grp].data(), q.a_packed_mr = a.packed_mr;
            if (direct) {
                q.b = a.x + img * a.xs.n + grp * cg * a.xs.c, q.rs_b = a.xs.c, q.cs_b = a.xs.w;
            } else {
                lower(a, img, grp, pad, L);
                q.b = L, q.rs_b = 1, q.cs_b = kd;
            }
            q.b_signed = a.x_signed;
            const dim_t k0 = grp * kg;
            q.x_zp = a.x_zp, q.w_zp = a.w_zp + k0, q.bias = a.bias ? a.bias + k0 : nullptr;
            q.colsum = a.colsum ? a.colsum + k0 : nullptr;
            q.mode = a.mode, q.mult = a.mult ? a.mult + k0 : nullptr;
            q.inv_out_scale = a.inv_out_scale, q.hi = a.hi, q.act = a.act, q.out_zp = a.out_zp;
            if (a.res) q.res = a.res + img * a.rs.n + k0 * a.rs.c, q.rs_r = a.rs.c, q.cs_r = a.rs.w;
            q.c = static_cast<char*>(a.y) + (img * a.ys.n + k0 * a.ys.c) * es, q.rs_c = a.ys.c, q.cs_c = a.ys.w;
            qgemm(q, cand, nthreads);
        }
}

QConvWeights pack_qconv_weights(const std::int8_t* w, dim_t k, dim_t kd, dim_t groups, bool w_unsigned) {
    QConvWeights out;
    const QCandidate cand = qcandidate();
    const dim_t kg = k / groups;
    out.mr = cand.ukr->mr;
    out.colsum.assign(static_cast<std::size_t>(k), 0);
    qweight_sums(k, kd, w, kd, 1, w_unsigned, out.colsum.data());
    for (dim_t grp = 0; grp < groups; ++grp)
        out.packed.push_back(pack_qweights(*cand.ukr, kg, kd, w + grp * kg * kd, kd, 1, w_unsigned));
    return out;
}

}  // namespace kernels
