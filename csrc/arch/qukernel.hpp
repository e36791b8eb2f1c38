// The int8 micro-kernel contract (u8 x s8 -> s32) shared by every ISA, its epilogue (the int32 /
// float / requantized output of kernels/_api/quant_args.py) and the descriptor the ISA table keeps.
//
// Kernel orientation: the kernels vectorise along i, the output channels (columns of qgemm's b,
// output channels of a convolution), so the packed A operand is the s8 weights and the broadcast
// B operand the u8 activations. K is packed in quads (VNNI's vpdpbusd multiplies 4 u8 by 4 s8
// and adds the 4 products to an int32 lane): a micro-panel holds ceil(k/4) quads, each of MR
// (A) or NR (B) groups of 4 consecutive k values, zero padded past k and past m / n.
#pragma once

#include <cstdint>

#include "../core/common.hpp"
#include "../core/epilogue.hpp"
#include "ukernel.hpp"

namespace kernels {

enum class QMode : int { i32 = 0, f32 = 1, u8 = 2, s8 = 3 };

// Applied by a kernel to its tile on the last k block. acc(i, j) is the raw sum of the shifted
// operands (s8 weights w', u8 activations a'); the true accumulator is
//     acc + row_add[i] + row_zw[i] * col_sum[j]                        (int32, wrapping)
// with row_add = bias - za'*colsum(w') + K*za'*zw', col_sum = -rowsum(a') (see gemm/qgemm.cpp).
// Then per mode: i32 stores it; f32 stores v = float(acc)*mult[i] (+ res), activated; u8/s8
// compute u = float(acc)*mult[i] (+ res*inv_out_scale), activated (relu6 at hi), and store
// saturate(rint(u) + out_zp). Every float step is one rounded float32 operation in this order
// (the int8 sources are compiled with -ffp-contract=off: no fused multiply-add).
// With `skip` (u8/s8 modes only) that 8-bit value q then goes through onnxruntime's QLinearAdd
// with the skip tensor's element s of the same type (a residual connection added after the
// requantization, as a QDQ model states it):
//     store saturate(rint(fma(q, add_ra, fma(s, add_rb, add_k))))
// two fused multiply-adds in this order (std::fma / vfmadd: the only fused operations here).
struct QEpilogue {
    QMode mode = QMode::i32;
    const std::int32_t* row_add = nullptr;  // per i, always given
    const std::int32_t* row_zw = nullptr;   // per i; nullptr: all zero (col_sum unused)
    const std::int32_t* col_sum = nullptr;  // per j
    const float* mult = nullptr;            // per i (f32, u8, s8)
    const float* res = nullptr;             // residual R(i, j) at res[i*rs_r + j*cs_r], or nullptr
    inc_t rs_r = 0, cs_r = 0;
    float inv_out_scale = 1.0f;             // residual factor (u8/s8)
    Act act = Act::none;
    float hi = 6.0f;                        // relu6's bound in output units: 6 or float32(6/out_scale)
    std::int32_t out_zp = 0;
    const std::uint8_t* skip = nullptr;     // S(i, j) at skip[i*rs_s + j*cs_s] (raw bytes), or nullptr
    inc_t rs_s = 0, cs_s = 0;
    float add_ra = 0.0f, add_rb = 0.0f, add_k = 0.0f;

    QEpilogue at(dim_t i, dim_t j) const {
        QEpilogue e = *this;
        if (e.skip) e.skip += i * rs_s + j * cs_s;
        e.row_add += i;
        if (e.row_zw) e.row_zw += i, e.col_sum += j;
        if (e.mult) e.mult += i;
        if (e.res) e.res += i * rs_r + j * cs_r;
        return e;
    }
};

// C[0:m, 0:n] := finish(sum_p A(i, p) * B(p, j) + acc_in(i, j)) for m <= MR, n <= NR.
//   kq: quads of k; a: packed s8 micro-panel (kq x MR x 4 bytes); b: packed u8 micro-panel
//   (kq x NR x 4 bytes); acc_in: nullptr or a partial int32 sum, element (i, j) at
//   acc_in[i*rs_in + j*cs_in] (an earlier k block's); c: element (i, j) at c[i*rs_c + j*cs_c] in
//   elements of the output type: int32 when ep == nullptr (a partial sum, raw), else ep->mode's
//   type. acc_in may be c itself (each element is read before it is written).
using qukr_fn = void (*)(dim_t kq, const std::int8_t* KERNELS_RESTRICT a, const std::uint8_t* KERNELS_RESTRICT b,
                         const std::int32_t* acc_in, inc_t rs_in, inc_t cs_in, void* c, inc_t rs_c, inc_t cs_c,
                         dim_t m, dim_t n, const QEpilogue* ep);

// Packs the weights A(i, p) = a[i*rs + p*cs] (i < mc, p < kc) xor `flip` (0x80 turns u8 into
// s8 - 128) into ceil(mc/MR) micro-panels of ceil(kc/4) quads.
using qpack_a_fn = void (*)(dim_t mc, dim_t kc, const std::int8_t* a, inc_t rs, inc_t cs, std::uint8_t flip,
                            std::int8_t* dst);
// Packs the activations B(p, j) = b[p*rs + j*cs] (p < kc, j < nc) xor `flip` (0x80 turns s8 into
// u8 + 128) into ceil(nc/NR) micro-panels of ceil(kc/4) quads.
using qpack_b_fn = void (*)(dim_t kc, dim_t nc, const std::uint8_t* b, inc_t rs, inc_t cs, std::uint8_t flip,
                            std::uint8_t* dst);

// The same tile with the activations unpacked: pixel j's k values at b[j*ldb + p] (4*kq readable
// bytes per pixel, pixels j < n only), u8 as they are (no flip). What the GEMM runs instead of
// packing B when the activations are rows of bytes already (NHWC images, im2col rows).
using qukr_rows_fn = void (*)(dim_t kq, const std::int8_t* KERNELS_RESTRICT a, const std::uint8_t* KERNELS_RESTRICT b,
                              inc_t ldb, const std::int32_t* acc_in, inc_t rs_in, inc_t cs_in, void* c, inc_t rs_c,
                              inc_t cs_c, dim_t m, dim_t n, const QEpilogue* ep);

struct QUkernel {
    const char* name;  // e.g. "ukr_s8_avx512vnni_32x12"
    Isa isa;
    dim_t mr, nr;
    qukr_fn kernel;
    qpack_a_fn pack_a;
    qpack_b_fn pack_b;
    bool (*cpu_runs)();  // beyond the ISA row's check (VNNI on an AVX-512 CPU); nullptr: none
    qukr_rows_fn kernel_rows = nullptr;  // nullptr: B is always packed
    // The kernel that unpacked-row products with k >= wide_min_k run on instead, where its cpu_runs
    // passes (nullptr: none): the same MR and weight packing, wider pixel tiles (AMX: 32, 2x2 tiles).
    // It has kernel_rows only (its kernel is nullptr: it never sees packed activations).
    const QUkernel* wide_rows = nullptr;
    dim_t wide_min_k = 0;
    // kernel_rows' k granule in quads: a product whose kq is not a whole number of granules runs
    // its tail on a slower path (AMX: vpdpbusd, the 8 tiles all taken by the 2x2 products). Where
    // each row's bytes past k are zeros up to the next granule, the GEMM hands it kq rounded up
    // instead: the zeros add nothing, and the weights it then reads past the panel's quads (up to
    // granule - 1 quads: in the panel's next k block, the next panel, or the kPackedReadSlack bytes
    // (gemm/driver.hpp) past the last panel) meet them. Needs (k_granule - 1) * 4 * mr <= that.
    dim_t k_granule = 1;
};

}  // namespace kernels
