// Overflow-checked 64-bit arithmetic for sizes derived from caller-supplied values (shapes,
// padding, strides, thread counts): a wrapped size would allocate a small buffer and then index
// far past it, so every such size is computed here and an overflow raises instead.
#pragma once

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include "common.hpp"

namespace kernels {

// *r = a * b; true on overflow (of the signed 64-bit result).
KERNELS_INLINE bool mul_overflows(dim_t a, dim_t b, dim_t* r) {
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_mul_overflow(a, b, r);
#else
    constexpr dim_t hi = std::numeric_limits<dim_t>::max(), lo = std::numeric_limits<dim_t>::min();
    const bool bad = a > 0 ? (b > 0 ? a > hi / b : b < lo / a) : (b > 0 ? a < lo / b : a != 0 && b < hi / a);
    if (!bad) *r = a * b;
    return bad;
#endif
}

// *r = a + b; true on overflow.
KERNELS_INLINE bool add_overflows(dim_t a, dim_t b, dim_t* r) {
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_add_overflow(a, b, r);
#else
    constexpr dim_t hi = std::numeric_limits<dim_t>::max(), lo = std::numeric_limits<dim_t>::min();
    const bool bad = b > 0 ? a > hi - b : a < lo - b;
    if (!bad) *r = a + b;
    return bad;
#endif
}

// a * b, or std::overflow_error (OverflowError in Python): "<what> too large: ... exceeds 2^63 bytes"
// (`what` says what the product is a size of, e.g. "conv2d: the depthwise scratch").
inline dim_t checked_mul(dim_t a, dim_t b, const char* what) {
    dim_t r;
    if (mul_overflows(a, b, &r)) throw std::overflow_error(std::string(what) + " is too large: its size exceeds 2^63 bytes");
    return r;
}

inline dim_t checked_add(dim_t a, dim_t b, const char* what) {
    dim_t r;
    if (add_overflows(a, b, &r)) throw std::overflow_error(std::string(what) + " is too large: its size exceeds 2^63 bytes");
    return r;
}

// round_up(a, b) for a >= 0, b >= 1, checked.
inline dim_t checked_round_up(dim_t a, dim_t b, const char* what) {
    return checked_mul(checked_add(a, b - 1, what) / b, b, what);
}

}  // namespace kernels
