// Shared basic types of the cpu backend: index type, alignment and the restrict keyword.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kernels {

// All index and stride arithmetic is 64-bit and signed: strides may be negative (reversed views)
// and m*k products of large matrices overflow 32 bits.
using dim_t = std::int64_t;
using inc_t = std::int64_t;

// Packed panels are aligned to a cache line so that every micro-panel load is aligned.
constexpr std::size_t kAlign = 64;

#if defined(__GNUC__) || defined(__clang__)
#define KERNELS_RESTRICT __restrict__
#define KERNELS_INLINE inline __attribute__((always_inline))
#else
#define KERNELS_RESTRICT
#define KERNELS_INLINE inline
#endif

// Data-movement loops (im2col, gathers, depthwise) are compiled once for every x86 ISA and picked
// at load time by CPUID (GCC function multiversioning), so the portable core still moves data with
// 512-bit vectors where the CPU has them.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define KERNELS_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define KERNELS_CLONES
#endif

inline dim_t ceil_div(dim_t a, dim_t b) { return (a + b - 1) / b; }
inline dim_t round_up(dim_t a, dim_t b) { return ceil_div(a, b) * b; }

}  // namespace kernels
