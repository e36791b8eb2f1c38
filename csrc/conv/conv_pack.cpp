// Gathering packers of the implicit im2col (see conv_pack.hpp).
//
// They are data movement only, so one binary serves every ISA; GCC clones them per vector width
// (arch/clones.hpp) because the zero-padded row copies are the inner loop, and an ISA's row in the
// table may replace the row gather and the weight packer with its own (arch/table.hpp).
// pack_weight_chunk stays out of line: LTO inlined its table lookup into the direct kernel's tile
// loop and spilled a register there.
#include "conv_pack.hpp"

#include <algorithm>
#include <vector>

#include "../arch/clones.hpp"
#include "../arch/table.hpp"
#include "gather_row.hpp"

namespace kernels {

namespace {

// Per-panel scratch kept on the stack up to this width. NR is small in every ISA (pixel_cols keeps
// its per-pixel arrays here); MR is not bounded: a vector-length-agnostic ISA (rvv) reads it from
// the hardware at run time (MR = 1024 floats at VLEN 16384, LMUL 2), so pixel_rows takes wider
// panels' segments from the heap.
constexpr dim_t kMaxPanel = 128;

// A run of output pixels on one output row: `len` pixels from (ho, wo), at lane `off` of a panel.
struct Segment {
    dim_t ho, wo, len, off;
};

template <typename T>
KERNELS_INLINE void pixel_rows(const ImageView<T>& v, row_gather_fn<T> fast, dim_t mr, dim_t i0, dim_t mc,
                               dim_t p0, dim_t kc, T* KERNELS_RESTRICT dst) {
    const ConvGeom& g = *v.g;
    if (v.xs.w != 1 || g.sw > 2) fast = nullptr;
    const dim_t wo_n = g.wo(), rs_n = g.r * g.s;
    Segment seg_stack[kMaxPanel];
    std::vector<Segment> seg_heap;  // a panel splits into at most mr runs (one pixel each)
    if (std::min(mr, mc) > kMaxPanel) seg_heap.resize(static_cast<std::size_t>(std::min(mr, mc)));
    Segment* const seg = seg_heap.empty() ? seg_stack : seg_heap.data();
    for (dim_t ib = 0; ib < mc; ib += mr) {
        const dim_t w = std::min(mr, mc - ib);
        // Split the panel's pixels into output-row runs once; every q step reuses them.
        int nseg = 0;
        for (dim_t off = 0; off < w;) {
            const dim_t pix = i0 + ib + off, ho = pix / wo_n, wo = pix % wo_n;
            const dim_t len = std::min(wo_n - wo, w - off);
            seg[nseg++] = {ho, wo, len, off};
            off += len;
        }
        dim_t c = p0 / rs_n, r = p0 % rs_n / g.s, s = p0 % g.s;
        for (dim_t kk = 0; kk < kc; ++kk) {
            T* d = dst + kk * mr;
            const T* xc = v.x + c * v.xs.c;
            const dim_t ih_base = r * g.dh - g.pt, iw_base = s * g.dw - g.pl;
            for (int q = 0; q < nseg; ++q) {
                const Segment& sg = seg[q];
                const dim_t ih = sg.ho * g.sh + ih_base;
                const T* row = ih >= 0 && ih < g.h ? xc + ih * v.xs.h : nullptr;
                if (fast) fast(d + sg.off, row, sg.wo * g.sw + iw_base, g.sw, sg.len, g.w);
                else gather_row(d + sg.off, row, sg.wo * g.sw + iw_base, g.sw, v.xs.w, sg.len, g.w);
            }
            for (dim_t t = w; t < mr; ++t) d[t] = T(0);
            if (++s == g.s) {
                s = 0;
                if (++r == g.r) r = 0, ++c;
            }
        }
        dst += kc * mr;
    }
}

template <typename T>
KERNELS_INLINE void pixel_cols(const ImageView<T>& v, const Ukernel<T>& u, dim_t j0, dim_t nc, dim_t p0,
                               dim_t kc, T* KERNELS_RESTRICT dst) {
    const ConvGeom& g = *v.g;
    const dim_t nr = u.nr, wo_n = g.wo(), pix_n = g.pixels(), cg = g.cg();
    const T* base[kMaxPanel];  // per pixel: its image; and its top-left input tap
    dim_t ih0[kMaxPanel], iw0[kMaxPanel];
    for (dim_t jb = 0; jb < nc; jb += nr) {
        const dim_t w = std::min(nr, nc - jb);
        for (dim_t t = 0; t < w; ++t) {
            const dim_t j = j0 + jb + t, img = j / pix_n, pix = j % pix_n;
            base[t] = v.x + img * v.xs.n;
            ih0[t] = pix / wo_n * g.sh - g.pt;
            iw0[t] = pix % wo_n * g.sw - g.pl;
        }
        // A full panel on one output row reads NR taps at a constant input stride. "One row" is
        // decided on the pixel index (row j / Wo of the batch-major output), not on the pixels'
        // addresses: with a zero batch stride (np.broadcast_to) every image has the same base, so
        // a panel that wraps from one image's last row into the next image's same row (Ho == 1,
        // or NR > Ho*Wo) would pass an address test and be packed as NR consecutive taps of one
        // input row instead of restarting at wo = 0 in the next image.
        const bool one_row = w == nr && (j0 + jb) / wo_n == (j0 + jb + nr - 1) / wo_n;
        for (dim_t q = p0; q < p0 + kc;) {
            const dim_t rs = q / cg, c0 = q % cg, len = std::min(cg - c0, p0 + kc - q);
            const dim_t r = rs / g.s, s = rs % g.s;
            T* d = dst + (q - p0) * nr;
            q += len;
            if (one_row) {
                const dim_t ih = ih0[0] + r * g.dh, iwa = iw0[0] + s * g.dw;
                if (ih >= 0 && ih < g.h && iwa >= 0 && iwa + (nr - 1) * g.sw < g.w) {
                    u.pack_b(len, nr, base[0] + ih * v.xs.h + iwa * v.xs.w + c0 * v.xs.c, v.xs.c,
                             g.sw * v.xs.w, d);
                    continue;
                }
            }
            const T* src[kMaxPanel];
            for (dim_t t = 0; t < nr; ++t) {
                const dim_t ih = t < w ? ih0[t] + r * g.dh : -1, iw = t < w ? iw0[t] + s * g.dw : -1;
                src[t] = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w
                             ? base[t] + ih * v.xs.h + iw * v.xs.w + c0 * v.xs.c
                             : nullptr;
            }
            for (dim_t cc = 0; cc < len; ++cc)
                for (dim_t t = 0; t < nr; ++t) d[cc * nr + t] = src[t] ? src[t][cc * v.xs.c] : T(0);
        }
        dst += kc * nr;
    }
}

template <typename T>
KERNELS_INLINE void weight_rows_rsc(const T* wgt, const ConvGeom& g, dim_t mr, dim_t i0, dim_t mc, dim_t p0,
                                    dim_t kc, T* KERNELS_RESTRICT dst) {
    const dim_t cg = g.cg(), kd = g.kd(), rs_n = g.r * g.s;
    for (dim_t ib = 0; ib < mc; ib += mr) {
        const dim_t w = std::min(mr, mc - ib);
        const T* rows = wgt + (i0 + ib) * kd;
        dim_t rs = p0 / cg, c = p0 % cg;
        for (dim_t kk = 0; kk < kc; ++kk) {
            T* d = dst + kk * mr;
            const dim_t off = c * rs_n + rs;
            for (dim_t t = 0; t < w; ++t) d[t] = rows[t * kd + off];
            for (dim_t t = w; t < mr; ++t) d[t] = T(0);
            if (++c == cg) c = 0, ++rs;
        }
        dst += kc * mr;
    }
}

// Portable form of pack_weight_chunk: each weight row read in order, written at the stride of
// the panel.
template <typename T>
KERNELS_INLINE void weight_chunk(const T* wgt, const ConvGeom& g, dim_t mr, dim_t i0, dim_t mc, dim_t c0, dim_t kc,
                                 T* KERNELS_RESTRICT dst) {
    const dim_t taps = g.r * g.s, kd = g.kd(), len = kc * taps;
    for (dim_t ib = 0; ib < mc; ib += mr, dst += mr * len) {
        const dim_t w = std::min(mr, mc - ib);
        for (dim_t t = 0; t < mr; ++t) {
            const T* src = wgt + (i0 + ib + t) * kd + c0 * taps;
            for (dim_t c = 0; c < kc; ++c)
                for (dim_t tap = 0; tap < taps; ++tap) dst[(tap * kc + c) * mr + t] = t < w ? src[c * taps + tap] : T(0);
        }
    }
}

}  // namespace

#define KERNELS_CONV_PACK(T)                                                                           \
    template <>                                                                                        \
    KERNELS_CLONES void pack_pixel_rows<T>(const ImageView<T>& v, Isa isa, dim_t mr, dim_t i0, dim_t mc, \
                                           dim_t p0, dim_t kc, T* dst) {                               \
        pixel_rows<T>(v, isa_kernels<T>(isa).row_gather, mr, i0, mc, p0, kc, dst);                     \
    }                                                                                                  \
    template <>                                                                                        \
    KERNELS_CLONES void pack_pixel_cols<T>(const ImageView<T>& v, const Ukernel<T>& u, dim_t j0, dim_t nc, \
                                           dim_t p0, dim_t kc, T* dst) {                               \
        pixel_cols<T>(v, u, j0, nc, p0, kc, dst);                                                      \
    }                                                                                                  \
    template <>                                                                                        \
    KERNELS_NOINLINE void pack_weight_chunk<T>(const T* w, const ConvGeom& g, Isa isa, dim_t mr,       \
                                               dim_t i0, dim_t mc, dim_t c0, dim_t kc, T* dst) {       \
        if (const weight_pack_fn<T> fast = isa_kernels<T>(isa).weight_pack) return fast(w, g, mr, i0, mc, c0, kc, dst); \
        weight_chunk<T>(w, g, mr, i0, mc, c0, kc, dst);                                                \
    }                                                                                                  \
    template <>                                                                                        \
    void pack_weight_rows_rsc<T>(const T* w, const ConvGeom& g, Isa isa, dim_t mr, dim_t i0, dim_t mc,   \
                                 dim_t p0, dim_t kc, T* dst) {                                         \
        if (p0 == 0 && kc == g.kd()) return pack_weight_chunk<T>(w, g, isa, mr, i0, mc, 0, g.cg(), dst);  \
        weight_rows_rsc<T>(w, g, mr, i0, mc, p0, kc, dst);                                             \
    }

KERNELS_CONV_PACK(float)
KERNELS_CONV_PACK(double)

}  // namespace kernels
