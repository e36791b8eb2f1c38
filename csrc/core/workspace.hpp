// Reusable, page-aligned packing buffers owned by the thread that enters the library.
#pragma once

#include <cstddef>

namespace kernels {

// Independent per-thread buffers: packing (the blocked driver), scratch (the im2col lowered
// matrix, depthwise padded planes, direct convolution's tap tables) and reorder (NCHW layers run
// in NHWC: the reordered input and output, conv/nchw_reorder.hpp) and residual (a convolution's
// residual copied when it is y itself, conv/conv.cpp), which are alive at the same time, and band
// (the intermediate rows of banded layers, conv/conv_band.hpp, alive around the others' calls).
enum class Slot : int { packing = 0, scratch = 1, reorder = 2, residual = 3, band = 4 };
constexpr int kSlots = 5;

// A buffer of at least `bytes`, valid until the next call for the same slot from the same thread.
// Reused across calls so mid-size products do not pay mmap + page faults every time.
void* workspace(std::size_t bytes, Slot slot = Slot::packing);

// At least `bytes` of zeros, owned by the calling thread and never written by the library: the
// zero column that direct convolution points padded pixels at. Zeroed once when it grows, so a
// call costs nothing (NCHW layers need (C-1)*H*W + 1 elements: the column runs at plane stride).
const void* zero_block(std::size_t bytes);

}  // namespace kernels
