// Python entry points of the ONNX runtime's 8-bit elementwise ops (csrc/ops/qadd.hpp, quantize.hpp): every array
// and parameter checked here, so a direct call can never read or write out of bounds nor convert
// an out-of-range float.
#include "qops_entry.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

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

// x and out C-contiguous and of one shape (the elementwise entries: quantize, dequantize).
void require_same_contiguous(const py::array& x, const py::array& out, const char* fn) {
    for (const auto& [arr, name] : {std::pair<const py::array&, const char*>{x, "x"}, {out, "out"}})
        if (!(arr.flags() & py::array::c_style)) throw py::value_error(std::string(fn) + ": " + name + " must be C-contiguous");
    bool same = x.ndim() == out.ndim();
    for (py::ssize_t d = 0; same && d < out.ndim(); ++d) same = x.shape(d) == out.shape(d);
    if (!same) throw py::value_error(std::string(fn) + ": x and out must have one shape");
}

// An 8-bit zero point in its type's range.
void require_zero_point(int zp, bool is_signed, const char* fn, const char* name) {
    const int lo = is_signed ? -128 : 0, hi = is_signed ? 127 : 255;
    if (zp < lo || zp > hi)
        throw py::value_error(std::string(fn) + ": " + name + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                              "] for " + (is_signed ? "int8" : "uint8") + ", got " + std::to_string(zp));
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

}  // namespace

// x: float32, C-contiguous; out: uint8 or int8 of x's shape, C-contiguous, writable, apart from x;
// scale finite, positive or negative but not zero (its reciprocal finite too); zero_point in out's range.
void quantize_linear_entry(const py::array& x, const py::array& out, float scale, int zero_point) {
    constexpr const char* fn = "quantize_linear";
    if (x.dtype().kind() != 'f' || x.itemsize() != 4) throw py::type_error(std::string(fn) + ": x must be float32");
    if (!is_byte(out)) throw py::type_error(std::string(fn) + ": out must be uint8 or int8");
    require_same_contiguous(x, out, fn);
    if (!std::isfinite(scale) || scale == 0.0f || !std::isfinite(1.0f / scale))
        throw py::value_error(std::string(fn) + ": scale must be finite and nonzero (with a finite reciprocal), got " +
                              std::to_string(scale));
    const bool is_signed = out.dtype().kind() == 'i';
    require_zero_point(zero_point, is_signed, fn, "zero_point");
    py_checks::require_writable_output(out, fn, "out");
    py_checks::require_no_overlap(out, x, fn, "out", "x");
    const auto* xp = static_cast<const float*>(x.data());
    auto* op = static_cast<std::uint8_t*>(const_cast<void*>(out.data()));
    const dim_t n = static_cast<dim_t>(out.size());
    const int nt = num_threads();
    py::gil_scoped_release nogil;
    quantize_linear(xp, op, n, scale, zero_point, is_signed, nt);
}

// x: uint8 or int8, C-contiguous; out: float32 of x's shape, C-contiguous, writable, apart from x;
// scale finite; zero_point in x's range.
void dequantize_linear_entry(const py::array& x, const py::array& out, float scale, int zero_point) {
    constexpr const char* fn = "dequantize_linear";
    if (!is_byte(x)) throw py::type_error(std::string(fn) + ": x must be uint8 or int8");
    if (out.dtype().kind() != 'f' || out.itemsize() != 4) throw py::type_error(std::string(fn) + ": out must be float32");
    require_same_contiguous(x, out, fn);
    if (!std::isfinite(scale)) throw py::value_error(std::string(fn) + ": scale must be finite, got " + std::to_string(scale));
    const bool is_signed = x.dtype().kind() == 'i';
    require_zero_point(zero_point, is_signed, fn, "zero_point");
    py_checks::require_writable_output(out, fn, "out");
    py_checks::require_no_overlap(out, x, fn, "out", "x");
    auto* op = static_cast<float*>(const_cast<void*>(out.data()));
    const auto n = static_cast<dim_t>(out.size());
    const float zp = static_cast<float>(zero_point);
    py::gil_scoped_release nogil;
    // (x - zp) in float32 is exact (an 8-bit difference), then one rounding: NumPy's dequantize.
    if (is_signed) {
        const auto* xp = static_cast<const std::int8_t*>(x.data());
        for (dim_t i = 0; i < n; ++i) op[i] = (static_cast<float>(xp[i]) - zp) * scale;
    } else {
        const auto* xp = static_cast<const std::uint8_t*>(x.data());
        for (dim_t i = 0; i < n; ++i) op[i] = (static_cast<float>(xp[i]) - zp) * scale;
    }
}

namespace {

template <typename Q>
void qgap_run(const py::array& x, const py::array& out, bool nhwc, int x_zp, int y_zp, float scale) {
    inc_t xs[4];
    py_checks::element_strides(x, xs, "qglobal_avg_pool", "x");
    const dim_t n = x.shape(0), c = x.shape(nhwc ? 3 : 1), h = x.shape(nhwc ? 1 : 2), w = x.shape(nhwc ? 2 : 3);
    const inc_t sn = xs[0], sc = xs[nhwc ? 3 : 1], sh = xs[nhwc ? 1 : 2], sw = xs[nhwc ? 2 : 3];
    // out as (N, C) whatever its rank: element (i, j) at i * on + j * oc.
    inc_t os[4];
    py_checks::element_strides(out, os, "qglobal_avg_pool", "out");
    const inc_t on = os[0], oc = out.ndim() == 2 ? os[1] : os[nhwc ? 3 : 1];
    const Q* xp = static_cast<const Q*>(x.data());
    Q* op = static_cast<Q*>(const_cast<void*>(out.data()));
    const float lo = static_cast<float>(std::numeric_limits<Q>::min()), hi = static_cast<float>(std::numeric_limits<Q>::max());
    const std::int64_t pixels = static_cast<std::int64_t>(h) * w;
    py::gil_scoped_release nogil;
    std::vector<std::int64_t> acc(static_cast<std::size_t>(c));
    for (dim_t i = 0; i < n; ++i) {
        std::fill(acc.begin(), acc.end(), 0);
        if (nhwc) {  // channels innermost: one vector add per pixel row of C bytes
            for (dim_t y = 0; y < h; ++y)
                for (dim_t z = 0; z < w; ++z) {
                    const Q* px = xp + i * sn + y * sh + z * sw;
                    for (dim_t j = 0; j < c; ++j) acc[static_cast<std::size_t>(j)] += px[j * sc];
                }
        } else {
            for (dim_t j = 0; j < c; ++j) {
                std::int64_t t = 0;
                for (dim_t y = 0; y < h; ++y)
                    for (dim_t z = 0; z < w; ++z) t += xp[i * sn + j * sc + y * sh + z * sw];
                acc[static_cast<std::size_t>(j)] = t;
            }
        }
        for (dim_t j = 0; j < c; ++j) {
            // onnxruntime's order: the int sum less the zero points, float32 times the one scale,
            // rounded half to even (nearbyint under the default mode), plus the output zero point.
            const float a = static_cast<float>(acc[static_cast<std::size_t>(j)] - static_cast<std::int64_t>(x_zp) * pixels);
            const float v = std::nearbyint(a * scale) + static_cast<float>(y_zp);
            op[i * on + j * oc] = static_cast<Q>(std::min(hi, std::max(lo, v)));
        }
    }
}

}  // namespace

void qglobal_avg_pool_entry(const py::array& x, const py::array& out, const std::string& layout, int x_zp, int y_zp,
                            float scale) {
    constexpr const char* fn = "qglobal_avg_pool";
    if (!is_byte(x) || !is_byte(out)) throw py::type_error(std::string(fn) + ": x and out must be uint8 or int8");
    if (!x.dtype().is(out.dtype()))
        throw py::type_error(std::string(fn) + ": out has dtype " + std::string(py::str(out.dtype())) + " but x is " +
                             std::string(py::str(x.dtype())) + "; outputs are never cast");
    if (layout != "NCHW" && layout != "NHWC") throw py::value_error(std::string(fn) + ": layout must be 'NCHW' or 'NHWC'");
    const bool nhwc = layout == "NHWC";
    if (x.ndim() != 4 || (nhwc ? x.shape(1) * x.shape(2) : x.shape(2) * x.shape(3)) == 0)
        throw py::value_error(std::string(fn) + ": x must be 4-D with at least one pixel, got shape " + py_checks::shape_str(x));
    const py::ssize_t n = x.shape(0), c = x.shape(nhwc ? 3 : 1);
    const bool flat = out.ndim() == 2 && out.shape(0) == n && out.shape(1) == c;
    const bool pooled = out.ndim() == 4 && out.shape(0) == n &&
                        (nhwc ? out.shape(1) == 1 && out.shape(2) == 1 && out.shape(3) == c
                              : out.shape(1) == c && out.shape(2) == 1 && out.shape(3) == 1);
    if (!flat && !pooled)
        throw py::value_error(std::string(fn) + ": out must have shape (N, C), or (N, 1, 1, C) for NHWC / (N, C, 1, 1) for "
                              "NCHW, with x's N and C; got " + py_checks::shape_str(out));
    const bool is_signed = out.dtype().kind() == 'i';
    require_zero_point(x_zp, is_signed, fn, "x_zero_point");
    require_zero_point(y_zp, is_signed, fn, "y_zero_point");
    if (!std::isfinite(scale) || !(scale > 0.0f))
        throw py::value_error(std::string(fn) + ": scale must be finite and positive, got " + std::to_string(scale));
    py_checks::require_writable_output(out, fn, "out");
    py_checks::require_no_overlap(out, x, fn, "out", "x");
    if (is_signed) qgap_run<std::int8_t>(x, out, nhwc, x_zp, y_zp, scale);
    else qgap_run<std::uint8_t>(x, out, nhwc, x_zp, y_zp, scale);
}

void register_qops(py::module_& m) {
    m.def("qglobal_avg_pool", &qglobal_avg_pool_entry, py::arg("x").noconvert(), py::arg("out").noconvert(),
          py::arg("layout"), py::arg("x_zero_point"), py::arg("y_zero_point"), py::arg("scale"),
          "out = saturate(round_half_even(float32(sum(x) - x_zero_point * pixels) * scale) + y_zero_point) per image "
          "and channel of a uint8/int8 4-D x (onnxruntime's QLinearGlobalAveragePool; scale = x_scale / (y_scale * "
          "pixels)); out (N, C) or the pooled 4-D shape, x's dtype");
    m.def("quantize_linear", &quantize_linear_entry, py::arg("x").noconvert(), py::arg("out").noconvert(),
          py::arg("scale"), py::arg("zero_point"),
          "out = saturate(round_half_even(x / scale) + zero_point) over a float32 array into uint8/int8 of its shape "
          "(QuantizeLinear per tensor; NaN gives the type's minimum)");
    m.def("dequantize_linear", &dequantize_linear_entry, py::arg("x").noconvert(), py::arg("out").noconvert(),
          py::arg("scale"), py::arg("zero_point"),
          "out = (float32(x) - zero_point) * scale over a uint8/int8 array into float32 of its shape (DequantizeLinear "
          "per tensor: NumPy's float32 arithmetic, one rounding)");
    m.def("qadd", &qadd_entry, py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("out").noconvert(),
          py::arg("ra"), py::arg("rb"), py::arg("k"),
          "out = saturate(round_half_even(fma(a, ra, fma(b, rb, k)))) in float32 over uint8/int8 arrays of one "
          "shape (the ONNX runtime's QAdd: onnxruntime's QLinearAdd arithmetic)");
    m.def("qadd_isa", [] { return std::string(isa_name(qadd_isa())); },
          "the ISA whose qadd helper runs under the current cap ('generic': the portable loop)");
}

}  // namespace kernels
