// RVV row gather of the NCHW implicit im2col (one output row's taps on one input row, zero padded,
// input step 1 or 2): the rvv row's row_gather (arch/table.cpp; portable form conv/gather_row.hpp).
//
// Vector-length agnostic: each run (leading zeros, the copied taps, trailing zeros) is a vsetvl
// strip-mined loop, so the segment may be shorter or longer than one register group at any VLEN.
// The valid range comes from the same valid_range as the portable loop, so the result is the same
// bit for bit (a copy and +0 fills). Step 2 reads with a strided load (vlse) rather than a
// two-field segment load: the segment load would also read the odd element after the last valid
// tap, which may lie past the end of the row (and of the image).
#include "rvv.hpp"
#include "vec.hpp"

namespace kernels {

namespace {

// d[0:n) := +0.
template <class V>
KERNELS_INLINE void fill_zero(typename V::T* d, dim_t n) {
    const typename V::R zero = V::set1(typename V::T(0), V::vlmax());
    for (dim_t t = 0; t < n;) {
        const std::size_t vl = V::setvl(static_cast<std::size_t>(n - t));
        V::store(d + t, zero, vl);
        t += static_cast<dim_t>(vl);
    }
}

}  // namespace

namespace rvv {

template <typename T>
void gather_row(T* d, const T* row, dim_t first, dim_t step, dim_t len, dim_t size) {
    using V = RvvVec<T>;
    dim_t lo = len, hi = len;  // row == nullptr: every tap is padding
    if (row != nullptr) valid_range(first, step, len, size, &lo, &hi);
    fill_zero<V>(d, lo);
    for (dim_t t = lo; t < hi;) {  // tap t reads row[first + t * step] (row is set: lo < hi)
        const std::size_t vl = V::setvl(static_cast<std::size_t>(hi - t));
        V::store(d + t, step == 1 ? V::load(row + (first + t), vl) : V::load_strided(row + (first + 2 * t), 2, vl), vl);
        t += static_cast<dim_t>(vl);
    }
    fill_zero<V>(d + hi, len - hi);
}

template void gather_row<float>(float*, const float*, dim_t, dim_t, dim_t, dim_t);
template void gather_row<double>(double*, const double*, dim_t, dim_t, dim_t, dim_t);

}  // namespace rvv
}  // namespace kernels
