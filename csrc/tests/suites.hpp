// The case groups of the native engine test; engine_test.cpp runs them for each ISA and kernel.
#pragma once

#include <cstdint>

#include "../arch/bukernel.hpp"
#include "../arch/qukernel.hpp"
#include "../arch/ukernel.hpp"
#include "../core/engine.hpp"
#include "check.hpp"

namespace kernels_test {

// Thread counts every group cycles through: 1, and team sizes that do not divide the tile counts
// (without OpenMP the engine must still compute all of C: the team is clamped to one thread).
constexpr int kThreads[] = {1, 2, 3, 7};

// kernels::gemm on the engine as configured now: 1x1x1 to past the cache blocks, k = 0, m or n =
// 0, column- and row-major operands (row-major A or B is a transposed operand), alpha/beta incl.
// beta = 0 over a NaN-filled C and alpha = 0 over NaN-filled A and B, every thread count.
template <typename T>
void gemm_isa_cases(Group& grp, std::uint64_t seed);

// One micro-kernel alone (configure(..., u.name)): m and n around its MR x NR tile and half
// tile, k = 1, 9, 40, every layout.
template <typename T>
void gemm_ukernel_cases(Group& grp, const kernels::Ukernel<T>& u, std::uint64_t seed);

// One micro-kernel alone with tiny cache blocks (MC = 2 MR, KC = 13, NC = 2 NR: several MC, KC
// and NC blocks per product) on the packed path, every thread count.
template <typename T>
void gemm_small_block_cases(Group& grp, const kernels::Ukernel<T>& u, std::uint64_t seed);

// kernels::conv2d on the engine as configured now: every algorithm, NCHW and NHWC, groups,
// depthwise, stride, padding, dilation, epilogues, strided views, with and without weights packed
// by pack_weights (for this engine, and for `other`, a different engine: packed per call then).
template <typename T>
void conv_cases(Group& grp, const kernels::Engine<T>* other, std::uint64_t seed);

// The convolution helpers of ISA `isa`'s table row (row gather, weight packer, depthwise row;
// those it has) against the portable loops on the same inputs, at lengths and channel counts
// around its vector length: the copies bit for bit (output guards untouched), depthwise bit for
// bit on exact data and within the K-scaled bound (of the portable result and the reference)
// otherwise, NaN reaching the same outputs.
template <typename T>
void helper_cases(Group& grp, kernels::Isa isa, std::uint64_t seed);

// One bf16 micro-kernel through kernels::bgemm (default blocks, or tiny ones: MC = 2 MR, KC = 14,
// NC = 2 NR), every edge tile, odd k, both C orientations and output types, against the portable
// kernel and the float64 product (bf16_cases.cpp).
void bf16_ukernel_cases(Group& grp, const kernels::BUkernel& u, bool tiny, std::uint64_t seed);

// One int8 micro-kernel through kernels::qgemm: exact against int64 sums (int32 output) and bit
// for bit against the portable kernel (every output mode) on every edge tile (m mod MR, n mod NR,
// k mod 4, k = 0), s8 activations, u8 weights, per-channel zero points, tiny blocks, threads.
void qgemm_cases(Group& grp, const kernels::QUkernel& u, std::uint64_t seed);

// The work schedule: StealRanges hands out every unit once, own range first; the driver's row units
// tile each thread's share; choose_grid weighs repacked A (schedule_cases.cpp).
void schedule_cases(Group& grp);

}  // namespace kernels_test
