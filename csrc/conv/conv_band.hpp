// Consecutive NHWC convolutions run in row bands: each layer reads the one before, and the values
// between them live only in a per-thread band buffer sized for the core's L2.
//
// Why: in an inverted-residual block (1x1 expand -> 3x3 depthwise -> 1x1 project) the expanded
// tensor is t = 6 times the block's input: 96 x 112 x 112 floats (4.8 MB) in MobileNetV2's second
// block. Run layer by layer, each intermediate is written out to L3 (or DRAM) and read back by the
// next layer, and the depthwise and small-k pointwise layers have so little arithmetic per byte
// that this traffic is their time. Banded, a thread computes the expand rows one band of the last
// layer's output needs, then the depthwise rows, then the project rows, while the band's values
// are still in its L2. Rows a band shares with the next (the depthwise window's overlap) are kept,
// not recomputed: moved to the front of the buffer. The threads split the last layer's rows (and
// the images), so the layers of a band run with no barrier between them.
#pragma once

#include <cstddef>
#include <vector>

#include "conv.hpp"

namespace kernels {

// One layer of a banded run. The layers are NHWC; layer i + 1 reads layer i's output (its g.h,
// g.w, g.c are layer i's ho(), wo(), k), and the caller has validated each layer on its whole
// tensors as conv2d's callers do.
template <typename T>
struct BandStep {
    ConvGeom g;     // the whole layer (g.n images)
    ConvAlgo algo;  // resolved for the whole layer: gemm, direct, im2col or convgemm
    const T* w;     // K x C/groups x R x S
    const PackedWeights<T>* pw;  // may be nullptr
    Epilogue<T> ep;
    const T* r = nullptr;  // residual (y's shape, strides rs; not y, not another layer's output)
    Strides4 rs{};
};

// Whether layer g can be a banded step: NHWC, an algorithm that takes a band's geometry, and
// padding no larger than the dilated kernel's reach (every band then reads at least one input row).
bool band_step_ok(const ConvGeom& g, ConvAlgo algo);

// Bytes of the intermediate values per row of the last layer's output, per image: what one band
// row costs in the band buffers.
template <typename T>
std::size_t band_row_bytes(const std::vector<BandStep<T>>& steps);

// y := the layers applied in order to x, band by band of y's rows. band_bytes: the budget of one
// thread's band buffers (the rows per band follow from it; at least one row).
template <typename T>
void conv_band_chain(const std::vector<BandStep<T>>& steps, const T* x, Strides4 xs, T* y, Strides4 ys,
                     const Engine<T>& e, int nthreads, std::size_t band_bytes);

}  // namespace kernels
