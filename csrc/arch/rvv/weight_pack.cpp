// RVV packing of convolution weights (Kg x Cg x R x S, contiguous) into the MR-row, (tap,
// channel)-ordered panels of the direct and NHWC kernels: the rvv row's weight_pack (arch/table.cpp;
// portable form weight_chunk in conv/conv_pack.cpp, the contract pack_weight_chunk's).
//
// One destination step (tap, c) is one source position across the panel's rows: a strided load
// (vlse, stride Cg*R*S elements) of the live rows into a zero group (tail undisturbed), stored
// whole, so the rows past mc are zeros as in the portable loop and the result is the same bit for
// bit (a copy). Source positions are visited in memory order (c outer, tap inner), so each row's
// weights stream through the cache in order while every store is a full unit-stride group.
// Vector-length agnostic: a panel of any mr is cut into vsetvl strips (mr is normally VLMAX of
// the m2 kernels, one strip). Not done: an in-register transpose by strided segment loads
// (vlsseg), which would read up to 8 consecutive positions per row per instruction; clang 16 and
// GCC 14 spell the segment intrinsics differently, and no RVV hardware here could measure the gain.
#include <algorithm>

#include "rvv.hpp"
#include "vec.hpp"

namespace kernels {
namespace rvv {

template <typename T>
void pack_weight_chunk(const T* w, const ConvGeom& g, dim_t mr, dim_t i0, dim_t mc, dim_t c0, dim_t kc, T* dst) {
    using V = RvvVec<T>;
    const dim_t taps = g.r * g.s, kd = g.kd(), len = kc * taps;
    const typename V::R zero = V::set1(T(0), V::vlmax());
    for (dim_t ib = 0; ib < mc; ib += mr, dst += mr * len) {
        const dim_t rows = std::min(mr, mc - ib);
        for (dim_t t0 = 0; t0 < mr;) {
            const std::size_t vl = V::setvl(static_cast<std::size_t>(mr - t0));
            const dim_t live = std::max<dim_t>(0, std::min<dim_t>(static_cast<dim_t>(vl), rows - t0));
            const T* src = w + (i0 + ib + t0) * kd + c0 * taps;  // row t0's first position of the chunk
            T* d = dst + t0;
            for (dim_t c = 0; c < kc; ++c)
                for (dim_t tap = 0; tap < taps; ++tap) {
                    T* dp = d + (tap * kc + c) * mr;
                    if (live == 0) V::store(dp, zero, vl);
                    else V::store(dp, V::load_strided_tu(zero, src + c * taps + tap, kd, static_cast<std::size_t>(live)), vl);
                }
            t0 += static_cast<dim_t>(vl);
        }
    }
}

template void pack_weight_chunk<float>(const float*, const ConvGeom&, dim_t, dim_t, dim_t, dim_t, dim_t, float*);
template void pack_weight_chunk<double>(const double*, const ConvGeom&, dim_t, dim_t, dim_t, dim_t, dim_t, double*);

}  // namespace rvv
}  // namespace kernels
