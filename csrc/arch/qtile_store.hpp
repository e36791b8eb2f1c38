// Scalar write-back of a finished int8 micro-tile (arch/qukernel.hpp's epilogue): the portable
// kernel's store and the SIMD kernels' path for edge tiles and output strides they do not vectorise.
// Every float step is a separate float32 operation in quant_args.finish's order (the int8 sources
// are compiled with -ffp-contract=off, so none is fused).
#pragma once

#include <cmath>
#include <cstdint>

#include "../core/qlinear_add.hpp"
#include "qukernel.hpp"

namespace kernels {
namespace {

// The 8-bit value q (in the type's range) added to the skip element s (QEpilogue's QLinearAdd).
KERNELS_INLINE std::int32_t qadd_one(std::int32_t q, const QEpilogue& e, const std::uint8_t* s, bool is_signed) {
    const float sv = is_signed ? static_cast<float>(static_cast<std::int8_t>(*s)) : static_cast<float>(*s);
    return qlinear_add(static_cast<float>(q), sv, e.add_ra, e.add_rb, e.add_k, is_signed);
}

// The finished value of one accumulator (bias and compensation already added) for channel i,
// residual element r and skip element s (nullptr: none), stored at c.
KERNELS_INLINE void qstore_one(std::int32_t acc, const QEpilogue& e, dim_t i, const float* r, const std::uint8_t* s,
                               void* c) {
    if (e.mode == QMode::i32) {
        *static_cast<std::int32_t*>(c) = acc;
        return;
    }
    float v = static_cast<float>(acc) * e.mult[i];
    if (e.mode == QMode::f32) {
        if (r) v = v + *r;
        if (e.act != Act::none) v = v < 0.0f ? 0.0f : v;  // (NaN compares false: stays NaN, as np.maximum)
        if (e.act == Act::relu6) v = v > 6.0f ? 6.0f : v;
        *static_cast<float*>(c) = v;
        return;
    }
    if (r) v = v + *r * e.inv_out_scale;
    if (e.act != Act::none) v = v < 0.0f ? 0.0f : v;
    if (e.act == Act::relu6) v = v > e.hi ? e.hi : v;
    // Clamped before the integer conversion: any |u| beyond 2^16 saturates the 8-bit output
    // anyway, and the sum with out_zp then stays far inside int32.
    v = v < -65536.0f ? -65536.0f : (v > 65536.0f ? 65536.0f : v);
    std::int32_t q = static_cast<std::int32_t>(std::nearbyint(v)) + e.out_zp;  // half to even (default mode)
    if (e.mode == QMode::u8) q = q < 0 ? 0 : (q > 255 ? 255 : q);
    else q = q < -128 ? -128 : (q > 127 ? 127 : q);
    if (s) q = qadd_one(q, e, s, e.mode == QMode::s8);
    if (e.mode == QMode::u8) *static_cast<std::uint8_t*>(c) = static_cast<std::uint8_t>(q);
    else *static_cast<std::int8_t*>(c) = static_cast<std::int8_t>(q);
}

KERNELS_INLINE dim_t qelem_size(QMode m) { return m == QMode::i32 || m == QMode::f32 ? 4 : 1; }

// tile: the raw sums, column-major with leading dimension MR. acc_in (may alias c) added first.
template <int MR>
KERNELS_INLINE void qstore_tile(const std::int32_t* tile, const std::int32_t* acc_in, inc_t rs_in, inc_t cs_in,
                                void* c, inc_t rs_c, inc_t cs_c, dim_t m, dim_t n, const QEpilogue* ep) {
    char* cb = static_cast<char*>(c);
    const dim_t es = ep ? qelem_size(ep->mode) : 4;
    for (dim_t j = 0; j < n; ++j)
        for (dim_t i = 0; i < m; ++i) {
            std::uint32_t v = static_cast<std::uint32_t>(tile[j * MR + i]);
            if (acc_in) v += static_cast<std::uint32_t>(acc_in[i * rs_in + j * cs_in]);
            void* dst = cb + (i * rs_c + j * cs_c) * es;
            if (!ep) {
                *static_cast<std::int32_t*>(dst) = static_cast<std::int32_t>(v);
                continue;
            }
            v += static_cast<std::uint32_t>(ep->row_add[i]);
            if (ep->row_zw) v += static_cast<std::uint32_t>(ep->row_zw[i]) * static_cast<std::uint32_t>(ep->col_sum[j]);
            qstore_one(static_cast<std::int32_t>(v), *ep, i, ep->res ? ep->res + i * ep->rs_r + j * ep->cs_r : nullptr,
                       ep->skip ? ep->skip + i * ep->rs_s + j * ep->cs_s : nullptr, dst);
        }
}

}  // namespace
}  // namespace kernels
