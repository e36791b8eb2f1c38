// The inner loop of every im2col variant: one output row's taps on one input row, zero padded.
#pragma once

#include "conv_geometry.hpp"

namespace kernels {

namespace {

// d[0:len) := row[(first + t*step) * inc] for taps inside [0, size), zero for padding taps;
// row == nullptr means the whole input row is padding. (An ISA may offer a vector form for inc == 1,
// step 1 or 2: row_gather_fn, arch/table.hpp.)
template <typename T>
KERNELS_INLINE void gather_row(T* KERNELS_RESTRICT d, const T* row, dim_t first, dim_t step, inc_t inc,
                               dim_t len, dim_t size) {
    if (row == nullptr) {
        for (dim_t t = 0; t < len; ++t) d[t] = T(0);
        return;
    }
    dim_t lo, hi;
    valid_range(first, step, len, size, &lo, &hi);
    for (dim_t t = 0; t < lo; ++t) d[t] = T(0);
    if (inc == 1 && step == 1) {  // stride-1 rows of NCHW images: a straight copy
        const T* s = row + first;
        for (dim_t t = lo; t < hi; ++t) d[t] = s[t];
    } else if (inc == 1 && step == 2) {  // the stride-2 layers of CNNs: a compile-time stride
        const T* s = row + first;
        for (dim_t t = lo; t < hi; ++t) d[t] = s[2 * t];
    } else {
        for (dim_t t = lo; t < hi; ++t) d[t] = row[(first + t * step) * inc];
    }
    for (dim_t t = hi; t < len; ++t) d[t] = T(0);
}

}  // namespace
}  // namespace kernels
