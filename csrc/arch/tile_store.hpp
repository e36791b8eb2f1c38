// Scalar write-back of a finished micro-tile: the path for edge tiles and general C strides.
#pragma once

#include "../core/common.hpp"
#include "../core/epilogue.hpp"

namespace kernels {
namespace {

// C[0:m, 0:n] := beta*C + tile, tile already scaled by alpha and stored column-major with leading
// dimension MR. beta == 0 overwrites without reading C, so NaN/Inf in C cannot leak.
// ep (may be nullptr): the per-channel epilogue and residual, applied after the beta term.
template <typename T, int MR>
KERNELS_INLINE void store_tile(const T* tile, T beta, T* c, inc_t rs_c, inc_t cs_c, dim_t m,
                               dim_t n, const Epilogue<T>* ep) {
    if (ep) {
        for (dim_t j = 0; j < n; ++j)
            for (dim_t i = 0; i < m; ++i) {
                T& cij = c[i * rs_c + j * cs_c];
                const T v = beta == T(0) ? tile[j * MR + i] : beta * cij + tile[j * MR + i];
                cij = ep->apply(v, i, j);  // reads the residual before C is written
            }
    } else if (beta == T(0)) {
        for (dim_t j = 0; j < n; ++j)
            for (dim_t i = 0; i < m; ++i) c[i * rs_c + j * cs_c] = tile[j * MR + i];
    } else {
        for (dim_t j = 0; j < n; ++j)
            for (dim_t i = 0; i < m; ++i) {
                T& cij = c[i * rs_c + j * cs_c];
                cij = beta * cij + tile[j * MR + i];
            }
    }
}

}  // namespace
}  // namespace kernels
