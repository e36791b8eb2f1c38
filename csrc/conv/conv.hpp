// 2-D convolution on the GEMM engine: explicit im2col, implicit convGemm, plain GEMM for 1x1
// stride-1 layers, and the direct depthwise kernel; weights optionally packed once (Conv2d plans).
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "../engine.hpp"
#include "conv_geometry.hpp"
#include "depthwise.hpp"

namespace kernels {

enum class ConvAlgo : int { im2col = 0, convgemm = 1, gemm = 2, direct = 3 };

// Algorithm "direct": the depthwise kernel for depthwise layers (R*S <= kMaxDepthwiseTaps), the
// batch-reduce NHWC kernel (conv_direct.hpp) for any other channels-contiguous layer; NCHW layers
// that are not depthwise have no direct form.
inline bool direct_is_depthwise(const ConvGeom& g) { return g.depthwise() && g.r * g.s <= kMaxDepthwiseTaps; }
inline bool direct_applies(const ConvGeom& g) { return direct_is_depthwise(g) || g.nhwc; }

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
// were built for: B panels (K along NR) for NCHW, A panels (K along MR, taps in (r, s, c) order)
// for NHWC. A kernel without an entry (the engine was reconfigured) packs on the fly.
template <typename T>
struct PackedWeights {
    struct Entry {
        const Ukernel<T>* ukr;
        dim_t group_stride;  // elements between groups
        AlignedBuffer<T> panels;
    };
    std::vector<Entry> entries;
    AlignedBuffer<T> taps_rsc;  // depthwise NHWC: taps as R x S x C

    const T* find(const Ukernel<T>* u, dim_t group) const {
        for (const Entry& e : entries)
            if (e.ukr == u) return e.panels.get() + group * e.group_stride;
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
