// 2-D convolution on the GEMM engine: explicit im2col, implicit convGemm, plain GEMM for 1x1
// stride-1 layers, and the direct depthwise kernel; weights optionally packed once (Conv2d plans).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "../core/engine.hpp"
#include "conv_geometry.hpp"
#include "depthwise.hpp"

namespace kernels {

enum class ConvAlgo : int { im2col = 0, convgemm = 1, gemm = 2, direct = 3, winograd = 4 };

// Algorithm "direct": the depthwise kernel for depthwise layers (R*S <= kMaxDepthwiseTaps), the
// batch-reduce kernel (conv_direct.hpp) for every other layer.
inline bool direct_is_depthwise(const ConvGeom& g) { return g.depthwise() && g.r * g.s <= kMaxDepthwiseTaps; }


// Buffer aligned to a cache line (packed A panels are read with aligned vector loads).
template <typename T>
struct AlignedBuffer {
    struct Free {
        void operator()(T* p) const;
    };
    std::unique_ptr<T[], Free> data;
    std::size_t size = 0;
    explicit AlignedBuffer(std::size_t n = 0);
    T* get() const { return data.get(); }
};

template <typename T>
struct WinogradWeights;  // conv/winograd.hpp

// A plan's weights in the forms its calls read: micro-panels of one micro-kernel in one layout
// (A panels: K along MR; B panels: K along NR), the Winograd transform, depthwise taps. Panels and
// the transform are made by the first call that needs them and kept for every later call: packing
// every candidate kernel in both layouts up front held 2-4 packed copies per layer, of which a
// call reads one (a layer that "auto" runs with Winograd reads none of them). Lookups take the
// mutex (uncontended: tens of nanoseconds per call), since a plan is called from several threads;
// the packed data never moves once made.
template <typename T>
struct PackedWeights {
    struct Entry {
        const Ukernel<T>* ukr;
        bool rows;           // A panels (K along MR), else B panels (K along NR)
        dim_t group_stride;  // elements between groups
        AlignedBuffer<T> panels;
    };
    const T* w = nullptr;  // the plan's own contiguous copy of the weights (it outlives this)
    ConvGeom geom{};       // K, C, R, S, groups and the layout (batch and image size unused)
    AlignedBuffer<T> taps_rsc;  // depthwise NHWC: taps as R x S x C
    mutable std::mutex mutex;
    mutable std::vector<Entry> entries;
    mutable std::shared_ptr<const WinogradWeights<T>> winograd;  // 3x3 layers (conv/winograd.hpp)

    // Panels of group `group` for kernel u in the given layout, packed on first use.
    const T* find(const Ukernel<T>* u, bool rows, dim_t group) const;
};

// The plan form of w (K x C/groups x R x S, contiguous; it must outlive the result): g gives K, C,
// R, S, groups and the layout. Only the depthwise NHWC taps are made here; panels on first use.
template <typename T>
std::shared_ptr<const PackedWeights<T>> pack_weights(const ConvGeom& g, const T* w, const Engine<T>& e);

// y := epilogue(conv(x, w)) with `nthreads` threads at most. The caller has validated g, the
// views and the algorithm (gemm: pointwise g and an x whose pixels form one stride; direct:
// depthwise g). pw may be nullptr.
template <typename T>
void conv2d(const ConvGeom& g, const ConvIO<T>& io, ConvAlgo algo, const PackedWeights<T>* pw,
            const Engine<T>& e, int nthreads);

// Bytes conv2d allocates besides its output for this layer (packing buffers, lowered matrix,
// scratch planes), with weights packed per call.
template <typename T>
std::size_t conv2d_workspace(const ConvGeom& g, ConvAlgo algo, const Engine<T>& e, int nthreads);

}  // namespace kernels
