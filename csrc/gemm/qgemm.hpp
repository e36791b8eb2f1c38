// The int8 GEMM (u8 x s8 -> s32, then arch/qukernel.hpp's epilogue) on the five-loop driver:
// qgemm and the quantized convolutions (conv/qconv.cpp) run through it.
#pragma once

#include <cstdint>
#include <vector>

#include "../arch/qukernel.hpp"
#include "../core/aligned_vector.hpp"
#include "../core/blocking.hpp"
#include "../core/common.hpp"

namespace kernels {

// One product in kernel orientation: C(i, j) for i < m output channels, j < n pixels (rows of
// qgemm's a), reducing over k.
struct QGemmArgs {
    dim_t m = 0, n = 0, k = 0;
    const std::int8_t* a = nullptr;  // weights W(i, p) at a[i*rs_a + p*cs_a] (u8 bytes when a_unsigned)
    inc_t rs_a = 0, cs_a = 0;
    bool a_unsigned = false;
    const std::uint8_t* b = nullptr;  // activations X(p, j) at b[p*rs_b + j*cs_b] (s8 bytes when b_signed)
    inc_t rs_b = 0, cs_b = 0;
    bool b_signed = false;
    // Each pixel's row (rs_b == 1) holds round_up(k, 4) readable bytes (an im2col buffer with its
    // rows padded): the unpacked path may read whole quads past k (they meet zero weights).
    bool b_quads_readable = false;
    // Each pixel's row (rs_b == 1) holds b_zero_to >= k readable bytes, zeros past k (the
    // convolution's lowered rows, padded to whole cache lines): a kernel with a k granule reads the
    // zeros as whole granules instead of finishing a tail its slower way. 0: nothing known.
    dim_t b_zero_to = 0;
    // Each pixel's row (rs_b == 1) holds b_readable >= k readable bytes, whatever they are (rows of a
    // matrix read in place, all but the last: up to the next row's k bytes). Where the weights are
    // packed with zeros past k to the kernel's k granule (a_packed_k), a kernel with a granule reads
    // the rows' tail as whole granules: what lies past k meets zero weights. 0: k.
    dim_t b_readable = 0;
    // Prepacked weights (pack_qweights, for this kernel's MR) instead of a; nullptr: packed here.
    const std::int8_t* a_packed = nullptr;
    dim_t a_packed_mr = 0;
    dim_t a_packed_k = 0;  // the k length of its panels (packed_qweights_k), zeros past k
    std::int32_t x_zp = 0;               // the activations' zero point (raw, as given)
    const std::int32_t* w_zp = nullptr;  // per channel (raw), m values
    const std::int32_t* bias = nullptr;  // per channel or nullptr
    const std::int32_t* colsum = nullptr;  // sum_p W'(i, p) of the shifted weights; nullptr: computed here
    QMode mode = QMode::i32;
    const float* mult = nullptr;  // per channel (f32, u8, s8)
    float inv_out_scale = 1.0f, hi = 6.0f;
    Act act = Act::none;
    std::int32_t out_zp = 0;
    const float* res = nullptr;  // residual R(i, j) at res[i*rs_r + j*cs_r]
    inc_t rs_r = 0, cs_r = 0;
    const std::uint8_t* skip = nullptr;  // 8-bit skip S(i, j) at skip[i*rs_s + j*cs_s] (QEpilogue's QLinearAdd)
    inc_t rs_s = 0, cs_s = 0;
    float add_ra = 0.0f, add_rb = 0.0f, add_k = 0.0f;
    void* c = nullptr;  // C(i, j) at c[i*rs_c + j*cs_c], elements of the mode's type
    inc_t rs_c = 0, cs_c = 0;
};

// Whether products whose activations are rows of u8 bytes read them unpacked (QUkernel::
// kernel_rows; on by default). Off: B is packed as for any other product (the tests' way to run
// both paths on one machine).
void set_int8_unpacked_b(bool on);
bool int8_unpacked_b();

struct QCandidate {
    const QUkernel* ukr;
    Blocking blk;  // kc a multiple of 4
    int grid_stream_weight;
    bool mc_derived = true;  // blk.mc from the cache rule, not configure(mc=): the wide variant resizes it
    bool kc_derived = true;  // the same for blk.kc
};

// The int8 kernel of the best ISA <= the engine's cap this CPU runs (generic always qualifies),
// with blocks from its ISA's rule or the float engine's overrides (configure(mc=, kc=, nc=)).
QCandidate qcandidate();

// Column sums of the shifted weights: sum_p (W(i, p) ^ flip) as s8, i < m.
void qweight_sums(dim_t m, dim_t k, const std::int8_t* a, inc_t rs, inc_t cs, bool a_unsigned, std::int32_t* out);

// All k of the weights packed for kernel u (ceil(m/MR) panels of round_up(k, 4) * MR bytes).
// The k length pack_qweights gives each panel of MR channels: k rounded up to whole quads, and to
// whole k granules of the kernel's AMX variant where it has one (zeros past k: that kernel then
// runs a k tail on rows read in place as one more tile step, QGemmArgs::b_readable).
dim_t packed_qweights_k(const QUkernel& u, dim_t k);
AlignedVector<std::int8_t> pack_qweights(const QUkernel& u, dim_t m, dim_t k, const std::int8_t* a, inc_t rs, inc_t cs,
                                       bool a_unsigned);

// Runs one product with at most nthreads threads.
void qgemm(const QGemmArgs& g, const QCandidate& cand, int nthreads);

}  // namespace kernels
