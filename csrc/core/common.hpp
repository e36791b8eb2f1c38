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
#define KERNELS_NOINLINE __attribute__((noinline))
#else
#define KERNELS_RESTRICT
#define KERNELS_INLINE inline
#define KERNELS_NOINLINE
#endif

inline dim_t ceil_div(dim_t a, dim_t b) { return (a + b - 1) / b; }
inline dim_t round_up(dim_t a, dim_t b) { return ceil_div(a, b) * b; }

}  // namespace kernels
