// int8 convolution (u8/s8 x s8/u8 -> s32, then the int8 epilogue) on the int8 GEMM: explicit
// im2col into u8 with padding pixels holding the activations' zero point, or the image itself
// for pointwise layers; groups as one GEMM per group; depthwise layers (groups == C == K) direct.
#pragma once

#include <cstdint>
#include <vector>

#include "../gemm/qgemm.hpp"
#include "conv_geometry.hpp"

namespace kernels {

// A convolution's tensors in logical (n, c, h, w) element strides (either layout) and its
// quantization: the QGemmArgs fields of the epilogue, per output channel (K values).
struct QConvArgs {
    ConvGeom g;
    const std::uint8_t* x = nullptr;  // raw bytes (s8 when x_signed)
    Strides4 xs{};
    bool x_signed = false;
    const std::int8_t* w = nullptr;  // contiguous K x C/groups x R x S (u8 bytes when w_unsigned)
    bool w_unsigned = false;
    // Weights packed per group by QConvWeights for a kernel of MR rows (nullptr: packed per call).
    const std::vector<AlignedVector<std::int8_t>>* packed = nullptr;
    dim_t packed_mr = 0;
    dim_t packed_k = 0;  // (QConvWeights::k_len)
    bool packed_rsc = false;  // packed in (r, s, c) reduction order (for unit channel stride x), else (c, r, s)
    const std::int32_t* colsum = nullptr;  // per output channel, or nullptr: computed per call
    std::int32_t x_zp = 0;
    const std::int32_t* w_zp = nullptr;
    const std::int32_t* bias = nullptr;
    QMode mode = QMode::i32;
    const float* mult = nullptr;
    float inv_out_scale = 1.0f, hi = 6.0f;
    Act act = Act::none;
    std::int32_t out_zp = 0;
    const float* res = nullptr;  // the output's shape; H and W form one stride (ho*rs.h == ... see qconv.cpp)
    Strides4 rs{};
    const std::uint8_t* skip = nullptr;  // 8-bit, the output's shape and type, H and W one stride as res
    Strides4 ss{};
    float add_ra = 0.0f, add_rb = 0.0f, add_k = 0.0f;  // QEpilogue's QLinearAdd of skip
    void* y = nullptr;  // output elements of the mode's type
    Strides4 ys{};
};

// Runs the layer: depthwise layers (groups == C == K) on the direct kernel (qconv_depthwise.cpp),
// every other on the int8 GEMM.
void qconv2d(const QConvArgs& a, const QCandidate& cand, int nthreads);
void qconv2d_depthwise(const QConvArgs& a, int nthreads);

// Weights packed once (QConv2d): per group, all k of the group's K/groups channels packed for the
// int8 kernel chosen at construction, and the column sums of the shifted weights.
struct QConvWeights {
    std::vector<AlignedVector<std::int8_t>> packed;  // per group (64-byte aligned: AMX tile rows)
    dim_t mr = 0;
    dim_t k_len = 0;   // each panel's k length (packed_qweights_k)
    bool rsc = false;  // reduction order (r, s, c), what NHWC inputs are lowered in; else (c, r, s)
    std::vector<std::int32_t> colsum;  // per output channel
};
// rsc: pack for the (r, s, c) reduction order of inputs with unit channel stride (NHWC); rs = R*S.
QConvWeights pack_qconv_weights(const std::int8_t* w, dim_t k, dim_t kd, dim_t rs, dim_t groups, bool w_unsigned,
                                bool rsc);

}  // namespace kernels
