// Per-channel epilogue applied to a C tile while it is still in registers: y = act(scale*v + shift).
//
// Convolution folds its bias, batch-norm scale and shift into one (scale, shift) pair per output
// channel (shift' = scale*bias + shift), so the write-back costs one FMA and one or two max/min
// per vector. The channel runs along the tile's rows or its columns depending on how the caller
// oriented the product (pixels x channels or channels x pixels).
#pragma once

#include "common.hpp"

namespace kernels {

enum class Act : int { none = 0, relu = 1, relu6 = 2 };

template <typename T>
struct Epilogue {
    const T* scale = nullptr;  // per channel, or nullptr for 1
    const T* shift = nullptr;  // per channel, or nullptr for 0
    Act act = Act::none;
    bool along_rows = true;  // channel = row index i of C (else column index j)

    bool active() const { return scale != nullptr || shift != nullptr || act != Act::none; }

    // The same epilogue seen from the tile whose top-left element is C(i, j).
    Epilogue at(dim_t i, dim_t j) const {
        Epilogue e = *this;
        const dim_t off = along_rows ? i : j;
        if (e.scale) e.scale += off;
        if (e.shift) e.shift += off;
        return e;
    }

    // The epilogue of C^T (the driver computes row-major C as C^T = B^T A^T).
    Epilogue transposed() const {
        Epilogue e = *this;
        e.along_rows = !along_rows;
        return e;
    }

    // Scalar form, for edge tiles and the portable kernels. NaN stays NaN through the activation.
    KERNELS_INLINE T apply(T v, dim_t channel) const {
        if (scale) v *= scale[channel];
        if (shift) v += shift[channel];
        if (act != Act::none && v < T(0)) v = T(0);
        if (act == Act::relu6 && v > T(6)) v = T(6);
        return v;
    }
};

}  // namespace kernels
