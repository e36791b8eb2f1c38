// Implicit im2col (convGemm, after hpca-uji/convGemm): operand sources for the blocked driver that
// gather image elements while packing a block, so the lowered matrix never exists.
//
// Two orientations, chosen so that the micro-kernel's vector dimension runs along the output's
// contiguous dimension:
//  - pixels x channels (NCHW output): A(pixel, q) with q = (c, r, s) is gathered from the image;
//    B(q, k) = w[k, q] is a strided view of the weights.
//  - channels x pixels (NHWC output): A(k, q) with q = (r, s, c) is gathered from the weights;
//    B(q, pixel) from the image, each (r, s) step a run of contiguous channels.
#pragma once

#include "../arch/ukernel.hpp"
#include "conv_geometry.hpp"

namespace kernels {

// The input of one image and one group, as the gathers see it.
template <typename T>
struct ImageView {
    const T* x;  // element (c, ih, iw) of group-channel c at x[c*xs.c + ih*xs.h + iw*xs.w]
    Strides4 xs;  // n: stride between images (channels x pixels orientation merges the batch)
    const ConvGeom* g;
};

// Rows [i0, i0+mc) (output pixels of one image) x columns [p0, p0+kc) (q = (c, r, s)) of the
// implicit im2col^T, into MR-row micro-panels.
// isa: that of the micro-kernel the panels are for (its table row may offer a vector row gather).
template <typename T>
void pack_pixel_rows(const ImageView<T>& v, Isa isa, dim_t mr, dim_t i0, dim_t mc, dim_t p0, dim_t kc, T* dst);

// Rows [p0, p0+kc) (q = (r, s, c)) x columns [j0, j0+nc) (output pixels, batch-major across
// images) of the implicit im2col, into NR-column micro-panels. Full panels of one output row with
// every tap inside the image go through the kernel's own (transposing) B packer.
template <typename T>
void pack_pixel_cols(const ImageView<T>& v, const Ukernel<T>& u, dim_t j0, dim_t nc, dim_t p0, dim_t kc,
                     T* dst);

// Rows [i0, i0+mc) (output channels) x columns [p0, p0+kc) (q = (r, s, c)) of the weights of one
// group (w: Kg x Cg x R x S, contiguous), into MR-row micro-panels. isa: that of the micro-kernel
// the panels are for (whole panels, p0 == 0 and kc == kd, go through pack_weight_chunk).
template <typename T>
void pack_weight_rows_rsc(const T* w, const ConvGeom& g, Isa isa, dim_t mr, dim_t i0, dim_t mc, dim_t p0,
                          dim_t kc, T* dst);

// Rows [i0, i0+mc) x input channels [c0, c0+kc) of one group's weights, every tap, into MR-row
// micro-panels of taps*kc steps in (tap, channel) order, tap = r*S + s: the layout of the direct
// NHWC kernels (for c0 == 0, kc == Cg the same panels as pack_weight_rows_rsc). The ISA's table
// row may offer a vector packer (weight_pack_fn, arch/table.hpp); else a scalar loop reads each
// weight row in order.
template <typename T>
void pack_weight_chunk(const T* w, const ConvGeom& g, Isa isa, dim_t mr, dim_t i0, dim_t mc, dim_t c0, dim_t kc,
                       T* dst);

// Driver operand sources (see driver.hpp).
template <typename T>
struct PixelRowsA {
    static constexpr bool prepacked = false;
    ImageView<T> v;
    void pack(const Ukernel<T>& u, dim_t i0, dim_t mc, dim_t p0, dim_t kc, T* dst) const {
        pack_pixel_rows(v, u.isa, u.mr, i0, mc, p0, kc, dst);
    }
};

template <typename T>
struct PixelColsB {
    static constexpr bool prepacked = false;
    ImageView<T> v;
    void pack(const Ukernel<T>& u, dim_t j0, dim_t nc, dim_t p0, dim_t kc, T* dst) const {
        pack_pixel_cols(v, u, j0, nc, p0, kc, dst);
    }
};

template <typename T>
struct WeightRowsA {
    static constexpr bool prepacked = false;
    const T* w;
    const ConvGeom* g;
    void pack(const Ukernel<T>& u, dim_t i0, dim_t mc, dim_t p0, dim_t kc, T* dst) const {
        pack_weight_rows_rsc(w, *g, u.isa, u.mr, i0, mc, p0, kc, dst);
    }
};

}  // namespace kernels
