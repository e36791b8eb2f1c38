// The bf16 micro-kernel contract (bf16 x bf16 -> fp32 accumulators) shared by every ISA, the C side
// it writes (fp32 partial sums between k blocks, then alpha/beta, the fp32 epilogue and one final
// rounding to bf16 or a plain fp32 store) and the descriptor the ISA table keeps.
//
// Kernel orientation as for float: the kernels vectorise along i (rows of the kernel's C). Three
// packed forms exist, told apart by BUkernel::kunit:
//   kunit 2: bf16 kept, k packed in pairs: a micro-panel holds ceil(k/2) pairs, each of MR (A) or
//            NR (B) lanes of 2 consecutive k values (one 32-bit lane per pair: vdpbf16ps's operand
//            layout, B broadcast as one 32-bit pair); zero past k, m, n.
//   kunit 1: bf16 widened to fp32 while packing, the float engine's panel layout (k steps of MR /
//            NR floats), so that ISAs without bf16 arithmetic reuse their fp32 micro-kernels.
//   kunit 32: AMX tiles (arch/avx512/ukr_bf16_amx_32x32.cpp): k padded with zeros to steps of 32 in
//            both panels, A as the pairs above, B as one [NR][32] block per step (k contiguous).
#pragma once

#include <cstdint>

#include "../core/common.hpp"
#include "../core/epilogue.hpp"
#include "ukernel.hpp"

namespace kernels {

// The C side of one bf16 product, in kernel orientation.
struct BTiles {
    dim_t m, n, k;
    float alpha, beta;  // beta == 0: C is never read
    void* c;            // C(i, j) at c[i*rs_c + j*cs_c], bf16 (uint16 bits) or fp32 elements
    inc_t rs_c, cs_c;
    bool c_bf16;
    float* part;        // fp32 partial sums of earlier k blocks (nullptr: one k block), P(i, j) at part[i + j*ld_p]
    inc_t ld_p;         // (kunit 32: MR x NR tiles, tile (i/MR, j/NR) at part + MR*NR*(i/MR + j/NR*ld_p))
    Epilogue<float> ep;  // applied in fp32 before the final rounding; inactive for plain GEMM
    // kunit 32 only: 0, B packed; else B read in place, column j's k values contiguous and the
    // next column ld_b elements on (bgemm.cpp's direct_b says when: whole 32-deep k steps and
    // 32-column panels, 64-byte-aligned columns).
    inc_t ld_b = 0;
    // kunit 32 only: A panels per column of tiles (MC / MR of the thread's block), over which the
    // kernel splits its prefetch of the next B panel.
    dim_t a_panels = 16;
};

// Accumulates the tile C[i0:i0+m, j0:j0+n] (m <= MR, n <= NR) over `steps` packed k steps (pairs
// for kunit 2, single k for kunit 1, 32 k for kunit 32) of the micro-panels a and b; then, by the block's place in k:
// not last: stores the fp32 sum (plus the earlier blocks' on later blocks) to g.part; last: adds
// the earlier blocks' sum, applies alpha, beta * C, the epilogue, and stores C in its type.
using bukr_fn = void (*)(dim_t steps, const void* KERNELS_RESTRICT a, const void* KERNELS_RESTRICT b,
                         const BTiles& g, dim_t i0, dim_t j0, dim_t m, dim_t n, bool first_k, bool last_k);

// kunit 32 only: B packed by the tiles as they run (bgemm.cpp: the first A block's tiles each copy
// a share of the next panel, so that the copy overlaps the tile unit's work instead of preceding
// it). The packed form is B in place's (BTiles::ld_b): column j's k values contiguous, padded with
// zeros to ld (a whole number of 32-deep steps), the next column ld on. A fill copies columns
// [c0, c0 + cols) of the panel at `panel`, whose kc k values start at src, the next column cs on;
// columns from c0 + real on lie beyond n and are written as zeros.
struct BPanelFill {
    const std::uint16_t* src;
    inc_t cs;
    dim_t c0, cols, real, kc;
    std::uint16_t* panel;
    inc_t ld;
};
using bukr_fill_fn = void (*)(dim_t steps, const void* KERNELS_RESTRICT a, const void* KERNELS_RESTRICT b,
                              const BTiles& g, dim_t i0, dim_t j0, dim_t m, dim_t n, bool first_k, bool last_k,
                              const BPanelFill& fill);
using bfill_fn = void (*)(dim_t steps, const BPanelFill& fill);  // the same copy without tiles

// Packs A(i, p) = a[i*rs + p*cs] (i < mc, p < kc; bf16 bits) into ceil(mc/MR) micro-panels.
using bpack_a_fn = void (*)(dim_t mc, dim_t kc, const std::uint16_t* a, inc_t rs, inc_t cs, void* dst);
// Packs B(p, j) = b[p*rs + j*cs] (p < kc, j < nc) into ceil(nc/NR) micro-panels.
using bpack_b_fn = void (*)(dim_t kc, dim_t nc, const std::uint16_t* b, inc_t rs, inc_t cs, void* dst);

struct BUkernel {
    const char* name;  // e.g. "ukr_bf16_avx512bf16_32x12"
    Isa isa;
    dim_t mr, nr;
    int kunit;       // 2: bf16 pairs; 1: widened to fp32; 32: AMX k steps
    bukr_fn kernel;
    bpack_a_fn pack_a;
    bpack_b_fn pack_b;
    bool (*cpu_runs)();  // beyond the ISA row's check (AVX512-BF16 on an AVX-512 CPU); nullptr: none
    bukr_fill_fn kernel_filling = nullptr;  // kernel, also copying a BPanelFill (kunit 32); nullptr: none
    bfill_fn fill = nullptr;                 // (with kernel_filling)
};

// bf16 <-> fp32. bf16 is the top half of an fp32: widening is exact; narrowing rounds to nearest
// even on the dropped 16 bits (NaN kept quiet and signed, overflow to Inf as IEEE rounding gives).
KERNELS_INLINE float bf16_to_f32(std::uint16_t h) {
    const std::uint32_t u = static_cast<std::uint32_t>(h) << 16;
    float f;
    __builtin_memcpy(&f, &u, 4);
    return f;
}
KERNELS_INLINE std::uint16_t f32_to_bf16(float f) {
    std::uint32_t u;
    __builtin_memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40);  // NaN: quiet
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<std::uint16_t>(u >> 16);
}

}  // namespace kernels
