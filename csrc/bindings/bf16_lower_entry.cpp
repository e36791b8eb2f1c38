// Python entry points of the bf16 convolution lowering (csrc/conv/bf16_lower.hpp): arrays and
// geometry checked here, so a direct call cannot read or write out of bounds.
#include "bf16_lower_entry.hpp"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <array>
#include <string>

#include "../conv/bf16_lower.hpp"
#include "../core/threads.hpp"
#include "array_checks.hpp"

namespace kernels {

namespace py = pybind11;

namespace {

constexpr dim_t kMaxDim = 2147483647;

[[noreturn]] void fail(const char* fn, const std::string& msg) { throw py::value_error(std::string(fn) + ": " + msg); }

void require_u16(const py::array& a, const char* fn, const char* name) {
    if (a.itemsize() != 2 || a.dtype().kind() != 'u')
        throw py::type_error(std::string(fn) + ": " + name + " must be uint16 (bf16 bit patterns), got " +
                             std::string(py::str(a.dtype())));
    if (!(a.flags() & py::array::c_style)) fail(fn, std::string(name) + " must be C-contiguous");
}

void check_range(const char* fn, const char* what, dim_t v, dim_t lo) {
    if (v < lo || v > kMaxDim) fail(fn, std::string(what) + " must be in [" + std::to_string(lo) + ", 2**31 - 1], got " + std::to_string(v));
}

// x (N, C, H, W) or (N, H, W, C) uint16; cols uint16 of shape (N*Ho*Wo, R*S*C) (NHWC) or
// (N, C*R*S, Ho*Wo) (NCHW); padding (top, bottom, left, right).
void bf16_im2col_entry(const py::array& x, const py::array& cols, const std::array<dim_t, 2>& kernel,
                       const std::array<dim_t, 2>& stride, const std::array<dim_t, 4>& padding,
                       const std::array<dim_t, 2>& dilation, const std::string& layout) {
    constexpr const char* fn = "bf16_im2col";
    if (layout != "NCHW" && layout != "NHWC") fail(fn, "layout must be 'NCHW' or 'NHWC', got '" + layout + "'");
    const bool nhwc = layout == "NHWC";
    require_u16(x, fn, "x");
    require_u16(cols, fn, "cols");
    if (x.ndim() != 4) fail(fn, "x must be 4-D, got shape " + py_checks::shape_str(x));
    for (int i = 0; i < 2; ++i) {
        check_range(fn, "kernel", kernel[i], 1), check_range(fn, "stride", stride[i], 1);
        check_range(fn, "dilation", dilation[i], 1);
    }
    for (dim_t p : padding) check_range(fn, "padding", p, 0);
    Bf16LowerGeom g{};
    g.n = x.shape(0), g.c = x.shape(nhwc ? 3 : 1), g.h = x.shape(nhwc ? 1 : 2), g.w = x.shape(nhwc ? 2 : 3);
    g.r = kernel[0], g.s = kernel[1], g.sh = stride[0], g.sw = stride[1], g.dh = dilation[0], g.dw = dilation[1];
    g.pt = padding[0], g.pl = padding[2];
    const dim_t eh = g.dh * (g.r - 1) + 1, ew = g.dw * (g.s - 1) + 1;
    const dim_t spanh = g.h + padding[0] + padding[1] - eh, spanw = g.w + padding[2] + padding[3] - ew;
    if (spanh < 0 || spanw < 0) fail(fn, "the kernel (with dilation) is larger than the padded input");
    g.ho = spanh / g.sh + 1, g.wo = spanw / g.sw + 1;
    const dim_t p = g.ho * g.wo, rsc = g.r * g.s * g.c;
    const bool ok = nhwc ? (cols.ndim() == 2 && cols.shape(0) == g.n * p && cols.shape(1) == rsc)
                         : (cols.ndim() == 3 && cols.shape(0) == g.n && cols.shape(1) == rsc && cols.shape(2) == p);
    if (!ok)
        fail(fn, "cols has shape " + py_checks::shape_str(cols) + "; this layer needs " +
                     (nhwc ? "(" + std::to_string(g.n * p) + ", " + std::to_string(rsc) + ")"
                           : "(" + std::to_string(g.n) + ", " + std::to_string(rsc) + ", " + std::to_string(p) + ")"));
    if (!(x.flags() & py::array::c_style)) fail(fn, "x must be C-contiguous");
    py_checks::require_writable_output(cols, fn, "cols");
    py_checks::require_no_overlap(cols, x, fn, "cols", "x");
    const auto* xp = static_cast<const std::uint16_t*>(x.data());
    auto* cp = static_cast<std::uint16_t*>(const_cast<void*>(cols.data()));
    const int nt = num_threads();
    py::gil_scoped_release nogil;
    bf16_im2col(xp, cp, g, nhwc, nt);
}

void round_bf16_entry(const py::array& x, const py::array& out) {
    constexpr const char* fn = "round_bf16";
    if (!x.dtype().is(py::dtype::of<float>())) throw py::type_error(std::string(fn) + ": x must be float32");
    if (!(x.flags() & py::array::c_style)) fail(fn, "x must be C-contiguous");
    require_u16(out, fn, "out");
    if (out.size() != x.size()) fail(fn, "out must have as many elements as x");
    py_checks::require_writable_output(out, fn, "out");
    py_checks::require_no_overlap(out, x, fn, "out", "x");
    const auto* xp = static_cast<const float*>(x.data());
    auto* op = static_cast<std::uint16_t*>(const_cast<void*>(out.data()));
    const dim_t n = static_cast<dim_t>(x.size());
    const int nt = num_threads();
    py::gil_scoped_release nogil;
    round_to_bf16(xp, op, n, nt);
}

}  // namespace

void register_bf16_lower(py::module_& m) {
    m.def("bf16_im2col", &bf16_im2col_entry, py::arg("x").noconvert(), py::arg("cols").noconvert(), py::arg("kernel"),
          py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("layout"),
          "im2col of bf16 bits (uint16) for one group: NHWC cols (N*Ho*Wo, R*S*C), NCHW cols (N, C*R*S, Ho*Wo); "
          "padding (top, bottom, left, right) reads as 0");
    m.def("round_bf16", &round_bf16_entry, py::arg("x").noconvert(), py::arg("out").noconvert(),
          "out (uint16 bf16 bits) = float32 x rounded to nearest, ties to even");
}

}  // namespace kernels
