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

// Which packed weight layouts a plan keeps: A panels (K along MR, taps (r, s, c)) serve the NHWC
// GEMM orientation and the batch-reduce kernel in both layouts; B panels (K along NR) the NCHW
// GEMM orientation. NCHW layers with taps (where "auto" runs the batch-reduce kernel) keep both.
inline bool plan_packs_rows(const ConvGeom& g) { return g.nhwc || (!direct_is_depthwise(g) && g.r * g.s > 1); }
inline bool plan_packs_cols(const ConvGeom& g) { return !g.nhwc; }

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

// Weights packed once into the micro-panels of every candidate micro-kernel of the engine they
// were built for, in the layouts plan_packs_rows / plan_packs_cols name. A kernel or layout
// without an entry (the engine was reconfigured) packs on the fly.
template <typename T>
struct WinogradWeights;  // conv/winograd.hpp

template <typename T>
struct PackedWeights {
    struct Entry {
        const Ukernel<T>* ukr;
        bool rows;           // A panels (K along MR), else B panels (K along NR)
        dim_t group_stride;  // elements between groups
        AlignedBuffer<T> panels;
    };
    std::vector<Entry> entries;
    AlignedBuffer<T> taps_rsc;  // depthwise NHWC: taps as R x S x C
    // Winograd-transformed weights (3x3 layers), made by the first call that runs "winograd" (16/9
    // the weights' size: a plan whose layers never run it does not hold them). Guarded by the mutex:
    // a plan is called from several threads.
    mutable std::mutex winograd_mutex;
    mutable std::shared_ptr<const WinogradWeights<T>> winograd;

    const T* find(const Ukernel<T>* u, bool rows, dim_t group) const {
        for (const Entry& e : entries)
            if (e.ukr == u && e.rows == rows) return e.panels.get() + group * e.group_stride;
        return nullptr;
    }
};

// Packs w (K x C/groups x R x S, contiguous) for every candidate kernel of `e` (g gives K, C,
// R, S, groups and the layout; batch and image size are not used).
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
