// Per-channel epilogue applied to a C tile while it is still in registers:
// y = act(scale*v + shift + residual).
//
// Convolution folds its bias, batch-norm scale and shift into one (scale, shift) pair per output
// channel (shift' = scale*bias + shift), so the write-back costs one FMA and one or two max/min
// per vector. The channel runs along the tile's rows or its columns depending on how the caller
// oriented the product (pixels x channels or channels x pixels). The residual (oneDNN's "sum"
// post-op: a ResNet block's skip connection) is an element-wise tensor of C's shape read through
// its own strides, added before the activation in the same write-back.
#pragma once

#include "common.hpp"

namespace kernels {

enum class Act : int { none = 0, relu = 1, relu6 = 2 };

// The activation alone (scalar form). NaN stays NaN: comparisons with NaN are false.
template <typename T>
KERNELS_INLINE T activate(T v, Act act) {
    if (act != Act::none && v < T(0)) v = T(0);
    if (act == Act::relu6 && v > T(6)) v = T(6);
    return v;
}

template <typename T>
struct Epilogue {
    const T* scale = nullptr;  // per channel, or nullptr for 1
    const T* shift = nullptr;  // per channel, or nullptr for 0
    Act act = Act::none;
    bool along_rows = true;  // channel = row index i of C (else column index j)
    // Residual R(i, j) at res[i*rs_r + j*cs_r] in the tile's orientation (nullptr: none). It may
    // be C itself (same address and strides): each element is read before it is written, in the
    // same store, so only products that write C in one pass may be given such a residual.
    const T* res = nullptr;
    inc_t rs_r = 0, cs_r = 0;

    bool active() const { return scale != nullptr || shift != nullptr || act != Act::none || res != nullptr; }

    // The same epilogue seen from the tile whose top-left element is C(i, j).
    Epilogue at(dim_t i, dim_t j) const {
        Epilogue e = *this;
        const dim_t off = along_rows ? i : j;
        if (e.scale) e.scale += off;
        if (e.shift) e.shift += off;
        if (e.res) e.res += i * rs_r + j * cs_r;
        return e;
    }

    // The epilogue of C^T (the driver computes row-major C as C^T = B^T A^T).
    Epilogue transposed() const {
        Epilogue e = *this;
        e.along_rows = !along_rows;
        e.rs_r = cs_r, e.cs_r = rs_r;
        return e;
    }

    // Scalar form of element C(i, j), for edge tiles and the portable kernels.
    KERNELS_INLINE T apply(T v, dim_t i, dim_t j) const {
        return apply_channel(v, along_rows ? i : j, res ? res + i * rs_r + j * cs_r : nullptr);
    }

    // Scalar form for callers that address the output themselves (depthwise, empty reductions):
    // channel `channel`, residual element *r (r == nullptr: none; `res` is not consulted).
    KERNELS_INLINE T apply_channel(T v, dim_t channel, const T* r) const {
        if (scale) v *= scale[channel];
        if (shift) v += shift[channel];
        if (r) v += *r;
        return activate(v, act);
    }
};

}  // namespace kernels
