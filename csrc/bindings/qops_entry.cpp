// Python entry points of the ONNX runtime's 8-bit elementwise ops (csrc/ops/qadd.hpp, quantize.hpp): every array
// and parameter checked here, so a direct call can never read or write out of bounds nor convert
// an out-of-range float.
#include "qops_entry.hpp"

#include <cmath>
#include <string>
#include <utility>

#include "../arch/table.hpp"
#include "../core/threads.hpp"
#include "../ops/qadd.hpp"
#include "../ops/quantize.hpp"
#include "array_checks.hpp"

namespace kernels {

namespace {

bool is_byte(const py::array& x) {
    const char kind = x.dtype().kind();
    return x.itemsize() == 1 && (kind == 'u' || kind == 'i');
}

// a, b, out: uint8 or int8 arrays of one dtype and one shape, C-contiguous, out writable and apart
// from both; ra, rb, k finite with magnitudes below 2^96 (then no float sum can overflow).
void qadd_entry(const py::array& a, const py::array& b, const py::array& out, float ra, float rb, float k) {
    constexpr const char* fn = "qadd";
    for (const auto& [arr, name] : {std::pair<const py::array&, const char*>{a, "a"}, {b, "b"}, {out, "out"}}) {
        if (!is_byte(arr)) throw py::type_error(std::string(fn) + ": " + name + " must be uint8 or int8");
        if (!(arr.flags() & py::array::c_style)) throw py::value_error(std::string(fn) + ": " + name + " must be C-contiguous");
    }
    if (!a.dtype().is(out.dtype()) || !b.dtype().is(out.dtype()))
        throw py::type_error(std::string(fn) + ": a, b and out must have one dtype; outputs are never cast");
    bool same = a.ndim() == out.ndim() && b.ndim() == out.ndim();
    for (py::ssize_t d = 0; same && d < out.ndim(); ++d) same = a.shape(d) == out.shape(d) && b.shape(d) == out.shape(d);
    if (!same) throw py::value_error(std::string(fn) + ": a, b and out must have one shape");
    for (const auto& [v, name] : {std::pair<float, const char*>{ra, "ra"}, {rb, "rb"}, {k, "k"}})
        if (!std::isfinite(v) || std::fabs(v) >= 0x1p96f)
            throw py::value_error(std::string(fn) + ": " + name + " must be finite and below 2**96 in magnitude, got " +
                                  std::to_string(v));
    py_checks::require_writable_output(out, fn, "out");
    py_checks::require_no_overlap(out, a, fn, "out", "a");
    py_checks::require_no_overlap(out, b, fn, "out", "b");
    const auto* ap = static_cast<const std::uint8_t*>(a.data());
    const auto* bp = static_cast<const std::uint8_t*>(b.data());
    auto* op = static_cast<std::uint8_t*>(const_cast<void*>(out.data()));
    const dim_t n = static_cast<dim_t>(out.size());
    const bool is_signed = out.dtype().kind() == 'i';
    const int nt = num_threads();
    py::gil_scoped_release nogil;
    qadd(ap, bp, op, n, is_signed, ra, rb, k, nt);
}

// x: float32, C-contiguous; out: uint8 or int8 of x's shape, C-contiguous, writable, apart from x;
// scale finite, positive or negative but not zero (its reciprocal finite too); zero_point in out's range.
void quantize_linear_entry(const py::array& x, const py::array& out, float scale, int zero_point) {
    constexpr const char* fn = "quantize_linear";
    if (x.dtype().kind() != 'f' || x.itemsize() != 4) throw py::type_error(std::string(fn) + ": x must be float32");
    if (!is_byte(out)) throw py::type_error(std::string(fn) + ": out must be uint8 or int8");
    for (const auto& [arr, name] : {std::pair<const py::array&, const char*>{x, "x"}, {out, "out"}})
        if (!(arr.flags() & py::array::c_style)) throw py::value_error(std::string(fn) + ": " + name + " must be C-contiguous");
    bool same = x.ndim() == out.ndim();
    for (py::ssize_t d = 0; same && d < out.ndim(); ++d) same = x.shape(d) == out.shape(d);
    if (!same) throw py::value_error(std::string(fn) + ": x and out must have one shape");
    if (!std::isfinite(scale) || scale == 0.0f || !std::isfinite(1.0f / scale))
        throw py::value_error(std::string(fn) + ": scale must be finite and nonzero (with a finite reciprocal), got " +
                              std::to_string(scale));
    const bool is_signed = out.dtype().kind() == 'i';
    const int lo = is_signed ? -128 : 0, hi = is_signed ? 127 : 255;
    if (zero_point < lo || zero_point > hi)
        throw py::value_error(std::string(fn) + ": zero_point must be in [" + std::to_string(lo) + ", " +
                              std::to_string(hi) + "] for " + (is_signed ? "int8" : "uint8") + ", got " +
                              std::to_string(zero_point));
    py_checks::require_writable_output(out, fn, "out");
    py_checks::require_no_overlap(out, x, fn, "out", "x");
    const auto* xp = static_cast<const float*>(x.data());
    auto* op = static_cast<std::uint8_t*>(const_cast<void*>(out.data()));
    const dim_t n = static_cast<dim_t>(out.size());
    const int nt = num_threads();
    py::gil_scoped_release nogil;
    quantize_linear(xp, op, n, scale, zero_point, is_signed, nt);
}

}  // namespace

void register_qops(py::module_& m) {
    m.def("quantize_linear", &quantize_linear_entry, py::arg("x").noconvert(), py::arg("out").noconvert(),
          py::arg("scale"), py::arg("zero_point"),
          "out = saturate(round_half_even(x / scale) + zero_point) over a float32 array into uint8/int8 of its shape "
          "(QuantizeLinear per tensor; NaN gives the type's minimum)");
    m.def("qadd", &qadd_entry, py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("out").noconvert(),
          py::arg("ra"), py::arg("rb"), py::arg("k"),
          "out = saturate(round_half_even(fma(a, ra, fma(b, rb, k)))) in float32 over uint8/int8 arrays of one "
          "shape (the ONNX runtime's QAdd: onnxruntime's QLinearAdd arithmetic)");
    m.def("qadd_isa", [] { return std::string(isa_name(qadd_isa())); },
          "the ISA whose qadd helper runs under the current cap ('generic': the portable loop)");
}

}  // namespace kernels
