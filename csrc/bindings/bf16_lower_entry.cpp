// Python entry points of the bf16 convolution lowering (csrc/conv/bf16_lower.hpp): arrays and
// geometry checked here, so a direct call cannot read or write out of bounds.
#include "bf16_lower_entry.hpp"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <array>
#include <string>

#include "../conv/bf16_lower.hpp"
#include "../conv/conv_geometry.hpp"
#include "../core/threads.hpp"
#include "array_checks.hpp"

namespace kernels {

namespace py = pybind11;

namespace {

[[noreturn]] void fail(const char* fn, const std::string& msg) { throw py::value_error(std::string(fn) + ": " + msg); }

void require_u16(const py::array& a, const char* fn, const char* name) {
    if (a.itemsize() != 2 || a.dtype().kind() != 'u')
        throw py::type_error(std::string(fn) + ": " + name + " must be uint16 (bf16 bit patterns), got " +
                             std::string(py::str(a.dtype())));
    if (!(a.flags() & py::array::c_style)) fail(fn, std::string(name) + " must be C-contiguous");
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
    // The shared geometry checks of every convolution entry (conv_geometry.hpp: values in range,
    // a kernel that fits the padded input, x and the output sizes without overflow), then the
    // lowered matrix's size (R*S copies of every pixel), as im2col_entry checks it.
    ConvGeom cg{};
    cg.n = x.shape(0), cg.c = x.shape(nhwc ? 3 : 1), cg.h = x.shape(nhwc ? 1 : 2), cg.w = x.shape(nhwc ? 2 : 3);
    cg.k = cg.c, cg.groups = 1, cg.nhwc = nhwc;
    cg.r = kernel[0], cg.s = kernel[1], cg.sh = stride[0], cg.sw = stride[1], cg.dh = dilation[0], cg.dw = dilation[1];
    cg.pt = padding[0], cg.pb = padding[1], cg.pl = padding[2], cg.pr = padding[3];
    check_geometry(cg, sizeof(std::uint16_t), fn);
    check_bytes(std::string(fn) + ": the lowered matrix (N, C, R, S, Ho, Wo)", {cg.n, cg.c, cg.r, cg.s, cg.ho(), cg.wo()},
                sizeof(std::uint16_t));
    Bf16LowerGeom g{};
    g.n = cg.n, g.c = cg.c, g.h = cg.h, g.w = cg.w, g.ho = cg.ho(), g.wo = cg.wo();
    g.r = cg.r, g.s = cg.s, g.sh = cg.sh, g.sw = cg.sw, g.dh = cg.dh, g.dw = cg.dw, g.pt = cg.pt, g.pl = cg.pl;
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
