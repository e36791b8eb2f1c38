// The bf16 GEMM (bf16 x bf16, fp32 accumulation, bf16 or fp32 output) on the five-loop driver:
// gemm/matmul on bfloat16 arrays and the bf16 convolutions (im2col lowering) run through it.
#pragma once

#include <cstdint>

#include "../arch/bukernel.hpp"
#include "../core/blocking.hpp"
#include "../core/common.hpp"
#include "../core/epilogue.hpp"

namespace kernels {

// C := ep(alpha * A B + beta * C), C(i, j) for i < m, j < n, in any orientation (swapped inside
// for unit-stride C as the float GEMM does). Elements are bf16 bits (uint16).
struct BGemmArgs {
    dim_t m = 0, n = 0, k = 0;
    const std::uint16_t* a = nullptr;  // A(i, p) at a[i*rs_a + p*cs_a]
    inc_t rs_a = 0, cs_a = 0;
    const std::uint16_t* b = nullptr;  // B(p, j) at b[p*rs_b + j*cs_b]
    inc_t rs_b = 0, cs_b = 0;
    float alpha = 1.0f, beta = 0.0f;
    void* c = nullptr;  // C(i, j) at c[i*rs_c + j*cs_c]: bf16 bits when c_bf16, else fp32
    inc_t rs_c = 0, cs_c = 0;
    bool c_bf16 = true;
    Epilogue<float> ep;  // in C's orientation; fp32, before the final rounding
};

struct BCandidate {
    const BUkernel* ukr;
    Blocking blk;  // kc a multiple of 2
    int grid_stream_weight;
    // AMX with derived blocks: each product takes KC = its whole reduction up to blk.kc (one k
    // block) and MC from L2 for that KC (bgemm.cpp says why).
    bool whole_k = false;
};

// The bf16 kernel of the best ISA <= the engine's cap this CPU runs, with its ISA's blocks or the
// float engine's overrides (configure(mc=, kc=, nc=)), as qcandidate for int8.
BCandidate bcandidate();

// Runs one product with at most nthreads threads.
void bgemm(const BGemmArgs& g, const BCandidate& cand, int nthreads);

}  // namespace kernels
