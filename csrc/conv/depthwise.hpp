// Direct depthwise convolution (groups == C == K): each channel convolved with its own R x S taps.
// Too little work per output (R*S FMAs) for a GEMM formulation to pay for its packing.
#pragma once

#include <cstddef>

#include "../arch/ukernel.hpp"
#include "conv_geometry.hpp"

namespace kernels {

// Largest R*S the direct kernel takes (its per-pixel tap table lives on the stack).
constexpr long kMaxDepthwiseTaps = 1024;

// isa: the engine's micro-kernel ISA; its table row may offer a vector row kernel for layers whose
// x and y have unit channel stride (depthwise_pick_fn, arch/table.hpp).
// w: K x 1 x R x S (the caller's layout). w_rsc: the same taps as R x S x C (channels innermost,
// what the NHWC kernel vectorises over), or nullptr to transpose them here into scratch memory.
template <typename T>
void depthwise_conv(const ConvGeom& g, const ConvIO<T>& io, const T* w_rsc, Isa isa, int nthreads);

// Scratch bytes depthwise_conv allocates.
std::size_t depthwise_workspace(const ConvGeom& g, std::size_t elem, int nthreads);

// w (C x 1 x R x S) -> R x S x C.
template <typename T>
void transpose_depthwise_taps(const ConvGeom& g, const T* w, T* w_rsc);

}  // namespace kernels
