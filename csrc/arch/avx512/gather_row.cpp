// AVX-512 row gather of the NCHW implicit im2col: the avx512 row's row_gather (arch/table.cpp).
//
// A row segment of an A panel is a run of consecutive output pixels; for stride 1 its taps are a
// contiguous input run, for stride 2 every other element. Zero-masked loads produce the padding
// zeros for free (masked-off lanes never touch memory, so reading "before" the row is safe) and
// masked stores end the segment exactly: no scalar prologue/epilogue loops, which cost as much as
// the copy itself for the 7..64-pixel segments of CNN layers.
#include "avx512.hpp"
#include "vec.hpp"

namespace kernels {
namespace avx512 {

template <typename T>
void gather_row(T* d, const T* row, dim_t first, dim_t step, dim_t len, dim_t size) {
    using Z = Avx512<T>;
    constexpr int W = Z::W;
    for (dim_t t = 0; t < len; t += W) {
        const unsigned out = lane_range(0, len - t) & Z::kAll;
        if (row == nullptr) {
            Z::store_mask(out, d + t, Z::zero());
            continue;
        }
        if (step == 1) {
            const dim_t i0 = first + t;  // input column of lane 0
            Z::store_mask(out, d + t, Z::load_mask(lane_range(-i0, size - i0) & out, row + i0));
        } else {  // step == 2: lanes of the two loads cover input columns [i0, i0 + 2W)
            const dim_t i0 = first + 2 * t;
            const typename Z::R a = Z::load_mask(lane_range(-i0, size - i0) & Z::kAll, row + i0);
            const typename Z::R b = Z::load_mask(lane_range(-i0 - W, size - i0 - W) & Z::kAll, row + i0 + W);
            Z::store_mask(out, d + t, Z::evens(a, b));
        }
    }
}

template void gather_row<float>(float*, const float*, dim_t, dim_t, dim_t, dim_t);
template void gather_row<double>(double*, const double*, dim_t, dim_t, dim_t, dim_t);

}  // namespace avx512
}  // namespace kernels
