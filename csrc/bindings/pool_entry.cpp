// Python entry points of the ONNX runtime's pooling (csrc/ops/pool.hpp): validate arrays and
// geometry as the conv entry does (array_checks), release the GIL, run.
//
// The caller (kernels/onnx/ops/_pool.py) computes the output size and passes `out`; everything
// is re-checked here so that a direct call can never read or write out of bounds.
#include "pool_entry.hpp"

#include <pybind11/stl.h>

#include <array>
#include <cstdint>
#include <utility>
#include <string>

#include "../core/threads.hpp"
#include "../ops/layout.hpp"
#include "../ops/lookup.hpp"
#include "../ops/pool.hpp"
#include "array_checks.hpp"

namespace kernels {

namespace {

using py_checks::Dtype;
using Pair = PoolPair;
using Quad = PoolQuad;
constexpr dim_t kIntMax = 2147483647;  // as conv2d's options: products of three stay in 64 bits

[[noreturn]] void fail(const char* fn, const std::string& msg) { throw py::value_error(std::string(fn) + ": " + msg); }

bool parse_layout(const std::string& s, const char* fn) {
    if (s == "NCHW") return false;
    if (s == "NHWC") return true;
    fail(fn, "layout must be 'NCHW' or 'NHWC', got '" + s + "'");
}

// Logical (n, c, h, w) element strides of a 4-D array.
PoolStrides strides_of(const py::array& a, bool nhwc, const char* fn, const char* name) {
    inc_t st[4];
    py_checks::element_strides(a, st, fn, name);
    return nhwc ? PoolStrides{st[0], st[3], st[1], st[2]} : PoolStrides{st[0], st[1], st[2], st[3]};
}

void require_4d(const py::array& a, const char* fn, const char* name, bool nhwc) {
    if (a.ndim() != 4)
        fail(fn, std::string(name) + " must be 4-D " + (nhwc ? "(N, H, W, C)" : "(N, C, H, W)") + ", got shape " +
                     py_checks::shape_str(a));
}

void require_range(const char* fn, const char* name, dim_t v, dim_t lo) {
    if (v < lo || v > kIntMax)
        fail(fn, std::string(name) + " must be in [" + std::to_string(lo) + ", 2**31 - 1], got " + std::to_string(v));
}

// x, out: dtypes equal, 4-D, out writable and apart from x; (N, C) and, for windows, Ho/Wo
// checked against the geometry (at most ceil mode's size). Returns x's (possibly copied) array.
// The element types of the pooling entries: float32/float64, and for max_pool2d and relayout the
// one-byte integers (quantized tensors).
enum class PoolDt { f32, f64, u8, i8 };

PoolDt pool_dtype(const py::array& x, const char* fn, const char* name, bool bytes_ok) {
    const char kind = x.dtype().kind();
    if (bytes_ok && x.itemsize() == 1 && (kind == 'u' || kind == 'i')) return kind == 'u' ? PoolDt::u8 : PoolDt::i8;
    try {
        return py_checks::dtype_of(x, fn, name) == Dtype::f32 ? PoolDt::f32 : PoolDt::f64;
    } catch (const py::type_error&) {
        if (!bytes_ok) throw;
        throw py::type_error(std::string(fn) + ": " + name + " must have dtype float32, float64, uint8 or int8, got " +
                             std::string(py::str(x.dtype())));
    }
}

struct Checked {
    py::array x;
    PoolDt dt;
    bool nhwc;
    dim_t n, c, h, w, ho, wo;
};

Checked check_arrays(const py::array& x, const py::array& out, const std::string& layout, const char* fn,
                     bool bytes_ok = false) {
    Checked k{};
    k.nhwc = parse_layout(layout, fn);
    k.dt = pool_dtype(x, fn, "x", bytes_ok);
    if (pool_dtype(out, fn, "out", bytes_ok) != k.dt)
        throw py::type_error(std::string(fn) + ": out has dtype " + std::string(py::str(out.dtype())) + " but x is " +
                             std::string(py::str(x.dtype())) + "; outputs are never cast");
    require_4d(x, fn, "x", k.nhwc);
    require_4d(out, fn, "out", k.nhwc);
    const int ca = k.nhwc ? 3 : 1, ha = k.nhwc ? 1 : 2, wa = k.nhwc ? 2 : 3;
    k.n = x.shape(0), k.c = x.shape(ca), k.h = x.shape(ha), k.w = x.shape(wa);
    k.ho = out.shape(ha), k.wo = out.shape(wa);
    if (out.shape(0) != k.n || out.shape(ca) != k.c)
        fail(fn, "out has shape " + py_checks::shape_str(out) + " but x has shape " + py_checks::shape_str(x) +
                     ": N and C must match");
    py_checks::require_writable_output(out, fn, "out");
    py_checks::require_no_overlap(out, x, fn, "out", "x");
    k.x = py_checks::aligned_input(x);
    return k;
}

void check_window(const char* fn, const Checked& k, const Pair& ks, const Pair& st, const Quad& pad, const Pair& dil) {
    require_range(fn, "kernel", std::min(ks[0], ks[1]), 1), require_range(fn, "kernel", std::max(ks[0], ks[1]), 1);
    require_range(fn, "stride", std::min(st[0], st[1]), 1), require_range(fn, "stride", std::max(st[0], st[1]), 1);
    require_range(fn, "dilation", std::min(dil[0], dil[1]), 1), require_range(fn, "dilation", std::max(dil[0], dil[1]), 1);
    for (dim_t p : pad) require_range(fn, "padding", p, 0);
    const dim_t eh = dil[0] * (ks[0] - 1) + 1, ew = dil[1] * (ks[1] - 1) + 1;
    const dim_t sh = k.h + pad[0] + pad[1] - eh, sw = k.w + pad[2] + pad[3] - ew;
    // Ceil mode's output extent, ceil(span / stride) + 1 with a floor division that holds for a
    // negative span too: a last window may overhang the padded input (it pools what lies inside).
    auto ceil_out = [](dim_t span, dim_t s) { return (span >= 0 ? (span + s - 1) / s : -((-span) / s)) + 1; };
    const dim_t hmax = ceil_out(sh, st[0]), wmax = ceil_out(sw, st[1]);
    if (hmax < 1 || wmax < 1)
        fail(fn, "the window (" + std::to_string(eh) + "x" + std::to_string(ew) + " with dilation) is larger than the padded input (" +
                     std::to_string(k.h + pad[0] + pad[1]) + "x" + std::to_string(k.w + pad[2] + pad[3]) + ")");
    if (k.ho < 1 || k.wo < 1 || k.ho > hmax || k.wo > wmax)
        fail(fn, "out's spatial size " + std::to_string(k.ho) + "x" + std::to_string(k.wo) + " does not fit the window: at most " +
                     std::to_string(hmax) + "x" + std::to_string(wmax) + " (ceil mode), at least 1x1");
}

template <typename T>
void run_pool(const Checked& k, const py::array& out, PoolKind kind, const Pair& ks, const Pair& st, const Quad& pad,
              const Pair& dil, const char* fn) {
    PoolGeom g{};
    g.n = k.n, g.c = k.c, g.h = k.h, g.w = k.w, g.ho = k.ho, g.wo = k.wo;
    g.kh = ks[0], g.kw = ks[1], g.sh = st[0], g.sw = st[1], g.dh = dil[0], g.dw = dil[1];
    g.pt = pad[0], g.pb = pad[1], g.pl = pad[2], g.pr = pad[3];
    const PoolStrides xs = strides_of(k.x, k.nhwc, fn, "x"), ys = strides_of(out, k.nhwc, fn, "out");
    const T* xp = static_cast<const T*>(k.x.data());
    T* yp = static_cast<T*>(const_cast<void*>(out.data()));
    const int nt = num_threads();  // the calling thread's ICV, as the conv
    py::gil_scoped_release nogil;
    pool2d<T>(g, kind, xp, xs, yp, ys, nt);
}

template <typename T>
void run_global(const Checked& k, const py::array& out) {
    const PoolStrides xs = strides_of(k.x, k.nhwc, "global_avg_pool", "x"),
                      ys = strides_of(out, k.nhwc, "global_avg_pool", "out");
    const T* xp = static_cast<const T*>(k.x.data());
    T* yp = static_cast<T*>(const_cast<void*>(out.data()));
    const int nt = num_threads();
    py::gil_scoped_release nogil;
    global_avg_pool<T>(k.n, k.c, k.h, k.w, xp, xs, yp, ys, nt);
}

}  // namespace

void max_pool2d_entry(const py::array& x, const py::array& out, const Pair& ks, const Pair& st, const Quad& pad,
                      const Pair& dil, const std::string& layout) {
    constexpr const char* fn = "max_pool2d";
    const Checked k = check_arrays(x, out, layout, fn, /*bytes_ok*/ true);
    check_window(fn, k, ks, st, pad, dil);
    // Windows never read padding (an all-padding window gives the type's lowest value), so for the
    // integer types padding acts as their minimum, as onnxruntime's uint8/int8 MaxPool pads.
    switch (k.dt) {
        case PoolDt::f32: run_pool<float>(k, out, PoolKind::max, ks, st, pad, dil, fn); break;
        case PoolDt::f64: run_pool<double>(k, out, PoolKind::max, ks, st, pad, dil, fn); break;
        case PoolDt::u8: run_pool<std::uint8_t>(k, out, PoolKind::max, ks, st, pad, dil, fn); break;
        case PoolDt::i8: run_pool<std::int8_t>(k, out, PoolKind::max, ks, st, pad, dil, fn); break;
    }
}

void avg_pool2d_entry(const py::array& x, const py::array& out, const Pair& ks, const Pair& st, const Quad& pad,
                      bool count_include_pad, const std::string& layout) {
    constexpr const char* fn = "avg_pool2d";
    const Checked k = check_arrays(x, out, layout, fn);
    const Pair dil{1, 1};
    check_window(fn, k, ks, st, pad, dil);
    // A window must not lie wholly in the padding (its divisor would be 0 without count_include_pad,
    // and onnxruntime rejects pads >= kernel): pads smaller than the kernel guarantee it.
    if (pad[0] >= ks[0] || pad[1] >= ks[0] || pad[2] >= ks[1] || pad[3] >= ks[1])
        fail(fn, "padding must be smaller than the kernel");
    const PoolKind kind = count_include_pad ? PoolKind::avg_include_pad : PoolKind::avg;
    if (k.dt == PoolDt::f32) run_pool<float>(k, out, kind, ks, st, pad, dil, fn);
    else run_pool<double>(k, out, kind, ks, st, pad, dil, fn);
}

void global_avg_pool_entry(const py::array& x, const py::array& out, const std::string& layout) {
    constexpr const char* fn = "global_avg_pool";
    const Checked k = check_arrays(x, out, layout, fn);
    if (k.ho != 1 || k.wo != 1) fail(fn, "out must be 1x1 spatially, got shape " + py_checks::shape_str(out));
    if (k.dt == PoolDt::f32) run_global<float>(k, out);
    else run_global<double>(k, out);
}

// to: "NHWC" (x NCHW -> out NHWC) or "NCHW" (x NHWC -> out NCHW); out C-contiguous, x any strides.
void relayout_entry(const py::array& x, const py::array& out, const std::string& to) {
    constexpr const char* fn = "relayout";
    const bool to_nhwc_ = parse_layout(to, fn);
    const PoolDt dt = pool_dtype(x, fn, "x", /*bytes_ok*/ true);
    if (pool_dtype(out, fn, "out", true) != dt)
        throw py::type_error(std::string(fn) + ": out has dtype " + std::string(py::str(out.dtype())) + " but x is " +
                             std::string(py::str(x.dtype())) + "; outputs are never cast");
    require_4d(x, fn, "x", !to_nhwc_);
    require_4d(out, fn, "out", to_nhwc_);
    // Logical (n, c, h, w) of x in its own layout, and the shape out must have.
    const bool x_nhwc = !to_nhwc_;
    const dim_t n = x.shape(0), c = x.shape(x_nhwc ? 3 : 1), h = x.shape(x_nhwc ? 1 : 2), w = x.shape(x_nhwc ? 2 : 3);
    const std::array<dim_t, 4> want = to_nhwc_ ? std::array<dim_t, 4>{n, h, w, c} : std::array<dim_t, 4>{n, c, h, w};
    for (int d = 0; d < 4; ++d)
        if (out.shape(d) != want[static_cast<std::size_t>(d)])
            fail(fn, "out has shape " + py_checks::shape_str(out) + " but x " + py_checks::shape_str(x) + " needs (" +
                         std::to_string(want[0]) + ", " + std::to_string(want[1]) + ", " + std::to_string(want[2]) + ", " +
                         std::to_string(want[3]) + ")");
    if (!(out.flags() & py::array::c_style)) fail(fn, "out must be C-contiguous (it is written row by row)");
    py_checks::require_writable_output(out, fn, "out");
    py_checks::require_no_overlap(out, x, fn, "out", "x");
    const py::array xa = py_checks::aligned_input(x);
    inc_t st[4];
    py_checks::element_strides(xa, st, fn, "x");
    const inc_t s[4] = {st[0], x_nhwc ? st[3] : st[1], x_nhwc ? st[1] : st[2], x_nhwc ? st[2] : st[3]};
    const int nt = num_threads();
    auto run = [&](auto tag) {
        using T = decltype(tag);
        const T* xp = static_cast<const T*>(xa.data());
        T* yp = static_cast<T*>(const_cast<void*>(out.data()));
        py::gil_scoped_release nogil;
        if (to_nhwc_) to_nhwc<T>(xp, s, n, c, h, w, yp, nt);
        else to_nchw<T>(xp, s, n, c, h, w, yp, nt);
    };
    if (dt == PoolDt::f32) run(float{});
    else if (dt == PoolDt::f64) run(double{});
    else run(std::uint8_t{});  // uint8 and int8: byte copies
}

namespace {

// a, b, out: one-byte arrays (uint8 or int8) of one shape, C-contiguous, out writable and apart from
// both; table: 65536 bytes of out's dtype, C-contiguous.
void lookup_pairs_entry(const py::array& a, const py::array& b, const py::array& table, const py::array& out) {
    constexpr const char* fn = "lookup_pairs";
    for (const auto& [arr, name] : {std::pair<const py::array&, const char*>{a, "a"}, {b, "b"}, {table, "table"}, {out, "out"}}) {
        if (arr.itemsize() != 1 || arr.dtype().kind() == 'b' || (arr.dtype().kind() != 'u' && arr.dtype().kind() != 'i'))
            throw py::type_error(std::string(fn) + ": " + name + " must be uint8 or int8");
        if (!(arr.flags() & py::array::c_style)) fail(fn, std::string(name) + " must be C-contiguous");
    }
    if (!out.dtype().is(table.dtype()))
        throw py::type_error(std::string(fn) + ": out and table must have one dtype; outputs are never cast");
    if (table.size() != 65536) fail(fn, "table must hold 65536 entries, got " + std::to_string(table.size()));
    if (a.ndim() != out.ndim() || b.ndim() != out.ndim()) fail(fn, "a, b and out must have one shape");
    for (py::ssize_t d = 0; d < out.ndim(); ++d)
        if (a.shape(d) != out.shape(d) || b.shape(d) != out.shape(d)) fail(fn, "a, b and out must have one shape");
    py_checks::require_writable_output(out, fn, "out");
    py_checks::require_no_overlap(out, a, fn, "out", "a");
    py_checks::require_no_overlap(out, b, fn, "out", "b");
    py_checks::require_no_overlap(out, table, fn, "out", "table");
    const auto* ap = static_cast<const std::uint8_t*>(a.data());
    const auto* bp = static_cast<const std::uint8_t*>(b.data());
    const auto* tp = static_cast<const std::uint8_t*>(table.data());
    auto* op = static_cast<std::uint8_t*>(const_cast<void*>(out.data()));
    const dim_t n = static_cast<dim_t>(out.size());
    const int nt = num_threads();
    py::gil_scoped_release nogil;
    lookup_pairs(ap, bp, tp, op, n, nt);
}

}  // namespace

void register_pool(py::module_& m) {
    m.def("lookup_pairs", &lookup_pairs_entry, py::arg("a").noconvert(), py::arg("b").noconvert(),
          py::arg("table").noconvert(), py::arg("out").noconvert(),
          "out[i] = table[(a[i] << 8) | b[i]] over one-byte arrays of one shape (the ONNX runtime's QAdd)");
    m.def("relayout", &relayout_entry, py::arg("x").noconvert(), py::arg("out").noconvert(), py::arg("to"),
          "x NCHW -> out NHWC (to='NHWC') or x NHWC -> out NCHW (to='NCHW'); out C-contiguous");
    m.def("max_pool2d", &max_pool2d_entry, py::arg("x").noconvert(), py::arg("out").noconvert(), py::arg("kernel"),
          py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("layout"),
          "MaxPool into out (its spatial size chosen by the caller); padding (top, bottom, left, right); float32, "
          "float64, uint8 or int8");
    m.def("avg_pool2d", &avg_pool2d_entry, py::arg("x").noconvert(), py::arg("out").noconvert(), py::arg("kernel"),
          py::arg("stride"), py::arg("padding"), py::arg("count_include_pad"), py::arg("layout"),
          "AveragePool into out; count_include_pad as onnxruntime (the window clipped to the padded input)");
    m.def("global_avg_pool", &global_avg_pool_entry, py::arg("x").noconvert(), py::arg("out").noconvert(),
          py::arg("layout"), "GlobalAveragePool into out (N, C, 1, 1) or (N, 1, 1, C)");
}

}  // namespace kernels
