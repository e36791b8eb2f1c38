// A Conv2d plan's weights (ConvWeights) and one validated conv2d_packed call, shared by the
// convolution entry points (conv_entry.cpp) and the chain entry (conv_chain_entry.cpp).
#pragma once

#include <pybind11/numpy.h>

#include <memory>
#include <string>

#include "../conv/conv.hpp"
#include "../conv/conv_band.hpp"
#include "array_checks.hpp"

namespace kernels {

namespace py = pybind11;

// A Conv2d plan's weights: a contiguous copy, the folded epilogue, and the packed panels.
struct ConvWeights {
    py_checks::Dtype dt;
    py::array w;  // owned, contiguous K x Cg x R x S
    dim_t k, cg, r, s, groups;
    bool nhwc;
    std::shared_ptr<const void> folded;  // FoldedEpilogue<T> (conv_entry.cpp)
    std::shared_ptr<const void> packed;  // PackedWeights<T>, looked up by micro-kernel at each call
};

// conv2d_packed's arguments after every check: the geometry, the algorithm as the engine runs it,
// x as it reads it (an aligned copy where the caller's was not), out, and the residual (None, the
// caller's array or a copy: see residual_input).
struct PackedCall {
    ConvGeom g;
    ConvAlgo algo;
    py::array x, out;
    py::object residual;
};

// Validates one conv2d_packed call (raises what conv2d_packed raises for bad arguments).
PackedCall check_packed_call(const ConvWeights& cw, const py::array& x, const py::array& out, const py::object& stride,
                             const py::object& pad, const py::object& dil, const std::string& algorithm,
                             const py::object& residual);

// Runs a validated call with the calling thread's thread count (releases the GIL).
void run_packed_call(const ConvWeights& cw, const PackedCall& call);

// The call as a layer of a banded run (conv_band.hpp); cw.dt must be T's dtype.
template <typename T>
BandStep<T> band_step(const ConvWeights& cw, const PackedCall& call);

// Element strides of a 4-D array by logical dimension (n, c, h, w) in the given layout.
Strides4 strides4(const py::array& a, bool nhwc, const char* name);
// strides4 of an array of the output's shape (out, a residual), its pixels as one index
// (as_pixel_index, conv/conv_geometry.hpp).
Strides4 pixel_strides4(const py::array& a, const ConvGeom& g, const char* name);

}  // namespace kernels
