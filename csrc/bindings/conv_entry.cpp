// Python entry points of the convolution: validate arrays and geometry, release the GIL, run.
//
// The Python layer (kernels/_api/conv.py) normalises stride/padding/dilation and raises the
// argument errors users see first; everything here is re-checked so that a direct call into
// hpc_kernels._cpu can never read or write out of bounds.
#include "conv_entry.hpp"

#include <pybind11/stl.h>

#include <array>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "../conv/conv.hpp"
#include "../conv/winograd.hpp"
#include "../conv/depthwise.hpp"
#include "../conv/im2col.hpp"
#include "../core/checked.hpp"
#include "../core/engine.hpp"
#include "../core/threads.hpp"
#include "array_checks.hpp"
#include "conv_plan.hpp"

namespace kernels {

// Logical (n, c, h, w) element strides of a 4-D array in the given layout.
Strides4 strides4(const py::array& a, bool nhwc, const char* name) {
    inc_t st[4];
    py_checks::element_strides(a, st, "conv2d", name);
    return nhwc ? Strides4{st[0], st[3], st[1], st[2]} : Strides4{st[0], st[1], st[2], st[3]};
}

Strides4 pixel_strides4(const py::array& a, const ConvGeom& g, const char* name) {
    return as_pixel_index(strides4(a, g.nhwc, name), g);
}

namespace {

using py_checks::Dtype;
using Pair = std::array<dim_t, 2>;
using Quad = std::array<dim_t, 4>;

[[noreturn]] void fail(const std::string& msg) { throw py::value_error("conv2d: " + msg); }

// An integer argument: a Python int or anything with __index__ (NumPy integers), not bool. Taken
// as a Python object, not as dim_t: pybind11's own conversion of an int beyond 64 bits fails the
// overload resolution and raises a TypeError listing the whole signature.
// (The messages are built only on failure: a chain checks ~60 calls per run, and building them
// up front cost 0.8 us of each call's 1.8 us of checks.)
dim_t int_arg(py::handle v, const char* fn, const char* name) {
    auto what = [&] { return std::string(fn) + ": " + name; };
    if (PyBool_Check(v.ptr())) throw py::type_error(what() + " must be an integer, got bool");
    PyObject* num = v.ptr();
    py::object idx;  // __index__'s int where v is not one already (an exact int needs none made)
    if (!PyLong_CheckExact(num)) {
        idx = py::reinterpret_steal<py::object>(PyNumber_Index(num));
        if (!idx) {
            PyErr_Clear();
            throw py::type_error(what() + " must be an integer, got " + Py_TYPE(num)->tp_name);
        }
        num = idx.ptr();
    }
    int overflow = 0;
    const long long x = PyLong_AsLongLongAndOverflow(num, &overflow);
    if (overflow) throw std::overflow_error(what() + " is out of range: it must fit in a signed 64-bit integer");
    if (x == -1 && PyErr_Occurred()) throw py::error_already_set();
    return static_cast<dim_t>(x);
}

// A tuple or list of N integers (stride, padding, dilation, kernel_size, shapes).
template <std::size_t N>
std::array<dim_t, N> ints_arg(py::handle v, const char* fn, const char* name) {
    auto what = [&] { return std::string(fn) + ": " + name; };
    PyObject* o = v.ptr();
    const bool tuple = PyTuple_Check(o);
    if (!tuple && !PyList_Check(o))
        throw py::type_error(what() + " must be a tuple of " + std::to_string(N) + " integers, got " + Py_TYPE(o)->tp_name);
    const Py_ssize_t size = tuple ? PyTuple_GET_SIZE(o) : PyList_GET_SIZE(o);
    if (size != static_cast<Py_ssize_t>(N))
        throw py::value_error(what() + " must have " + std::to_string(N) + " entries, got " + std::to_string(size));
    std::array<dim_t, N> out{};
    // Borrowed items: a list's may change only through Python code, and int_arg runs none for
    // exact ints; __index__ of another type may, so each item is held while it is converted.
    for (std::size_t i = 0; i < N; ++i) {
        const py::object item = py::reinterpret_borrow<py::object>(tuple ? PyTuple_GET_ITEM(o, i) : PyList_GET_ITEM(o, i));
        out[i] = int_arg(item, fn, name);
    }
    return out;
}

ConvAlgo parse_algo(const std::string& s) {
    if (s == "im2col") return ConvAlgo::im2col;
    if (s == "convgemm") return ConvAlgo::convgemm;
    if (s == "gemm") return ConvAlgo::gemm;
    if (s == "direct") return ConvAlgo::direct;
    if (s == "winograd") return ConvAlgo::winograd;
    fail("algorithm must be one of 'im2col', 'convgemm', 'gemm', 'direct', 'winograd', got '" + s + "'");
}

Act parse_act(const std::string& s) {
    if (s.empty() || s == "none") return Act::none;
    if (s == "relu") return Act::relu;
    if (s == "relu6") return Act::relu6;
    fail("activation must be None, 'relu' or 'relu6', got '" + s + "'");
}

bool parse_layout(const std::string& s) {
    if (s == "NCHW") return false;
    if (s == "NHWC") return true;
    fail("layout must be 'NCHW' or 'NHWC', got '" + s + "'");
}

void require_4d(const py::array& a, const char* name, const char* what) {
    if (a.ndim() != 4)
        fail(std::string(name) + " must be 4-D " + what + ", got shape " + py_checks::shape_str(a));
}

// The geometry of an (N, C, H, W) input (logical order) convolved with K x Cg x R x S filters;
// checks what conv2d's Python layer checks, and every size, for direct callers (check_geometry
// raises std::invalid_argument / std::overflow_error: ValueError / OverflowError in Python).
ConvGeom make_geom(const Quad& nchw, dim_t k, dim_t cg, dim_t r, dim_t s, dim_t groups, bool nhwc,
                   const Pair& stride, const Quad& pad, const Pair& dil, std::size_t elem, const char* fn) {
    ConvGeom g{};
    g.n = nchw[0], g.c = nchw[1], g.h = nchw[2], g.w = nchw[3];
    g.k = k, g.r = r, g.s = s, g.groups = groups, g.nhwc = nhwc;
    g.sh = stride[0], g.sw = stride[1], g.pt = pad[0], g.pb = pad[1], g.pl = pad[2], g.pr = pad[3];
    g.dh = dil[0], g.dw = dil[1];
    if (cg < 0) throw py::value_error(std::string(fn) + ": w's dimensions must be >= 0");
    check_geometry(g, elem, fn);
    if (cg != g.c / groups)
        throw py::value_error(std::string(fn) + ": w has " + std::to_string(cg) + " input channels per group but x has " +
                              std::to_string(g.c) + " channels in " + std::to_string(groups) + " group(s)");
    return g;
}

ConvGeom make_geom(const py::array& x, dim_t k, dim_t cg, dim_t r, dim_t s, dim_t groups, bool nhwc,
                   const Pair& stride, const Quad& pad, const Pair& dil, const char* fn) {
    require_4d(x, "x", nhwc ? "(N, H, W, C)" : "(N, C, H, W)");
    const Quad nchw{x.shape(0), x.shape(nhwc ? 3 : 1), x.shape(nhwc ? 1 : 2), x.shape(nhwc ? 2 : 3)};
    return make_geom(nchw, k, cg, r, s, groups, nhwc, stride, pad, dil, static_cast<std::size_t>(x.itemsize()), fn);
}

std::vector<py::ssize_t> out_shape(const ConvGeom& g) {
    if (g.nhwc) return {g.n, g.ho(), g.wo(), g.k};
    return {g.n, g.k, g.ho(), g.wo()};
}

void check_out(const py::array& out, Dtype dt, const ConvGeom& g, ConvAlgo algo, const py::array& x) {
    const Dtype dout = py_checks::dtype_of(out, "conv2d", "out");
    if (dout != dt)
        throw py::type_error(std::string("conv2d: out has dtype ") + py_checks::dtype_name(dout) +
                             " but the result is " + py_checks::dtype_name(dt) + "; outputs are never cast");
    const auto want = out_shape(g);
    bool same = out.ndim() == 4;
    for (int d = 0; same && d < 4; ++d) same = out.shape(d) == want[d];
    if (!same)
        fail("out has shape " + py_checks::shape_str(out) + ", expected (" + std::to_string(want[0]) + ", " +
             std::to_string(want[1]) + ", " + std::to_string(want[2]) + ", " + std::to_string(want[3]) + ")");
    py_checks::require_writable_output(out, "conv2d", "out");
    py_checks::require_no_overlap(out, x, "conv2d", "out", "x");
    const Strides4 ys = pixel_strides4(out, g, "out");
    // The GEMM paths address output pixels as one index: rows of an image must follow each other.
    if (!(algo == ConvAlgo::direct && direct_is_depthwise(g)) && g.ho() > 1 && ys.h != g.wo() * ys.w)
        fail("out must have its H and W dimensions contiguous with each other (stride of H == Wo * stride "
             "of W); slice along N or C only");
}

// The residual (None, or an array of out's shape and dtype, any strides) as the engine reads it:
// the caller's array, or a copy where the engine could not read it in place: misaligned, or rows
// of an image not at one stride on the paths that flatten pixels (as check_out requires of out).
// It may be out itself (the same view: conv2d handles y = act(conv + y), conv.cpp); any other
// overlap with out is an error.
py::object residual_input(const py::object& res, Dtype dt, const ConvGeom& g, ConvAlgo algo, const py::array& out) {
    if (res.is_none()) return res;
    if (!py::isinstance<py::array>(res))
        throw py::type_error(std::string("conv2d: residual must be None or a NumPy array of the output's shape, got ") +
                             Py_TYPE(res.ptr())->tp_name);
    const auto r = py::reinterpret_borrow<py::array>(res);
    const Dtype dr = py_checks::dtype_of(r, "conv2d", "residual");
    if (dr != dt)
        throw py::type_error(std::string("conv2d: residual has dtype ") + py_checks::dtype_name(dr) +
                             " but the result is " + py_checks::dtype_name(dt) + "; it must have the output's dtype");
    const auto want = out_shape(g);
    bool same = r.ndim() == 4;
    for (int d = 0; same && d < 4; ++d) same = r.shape(d) == want[d];
    if (!same)
        fail("residual has shape " + py_checks::shape_str(r) + ", expected the output's shape (" +
             std::to_string(want[0]) + ", " + std::to_string(want[1]) + ", " + std::to_string(want[2]) + ", " +
             std::to_string(want[3]) + ")");
    bool is_out = r.data() == out.data();
    for (int d = 0; is_out && d < 4; ++d) is_out = r.strides(d) == out.strides(d) || r.shape(d) <= 1;
    if (!is_out) py_checks::require_no_overlap(out, r, "conv2d", "out", "residual");
    if (is_out) return r;  // (out is aligned and its rows are one stride: check_out)
    if (!py_checks::element_aligned(r)) return py_checks::aligned_input(r, true);
    const Strides4 rs = pixel_strides4(r, g, "residual");
    // (np.ascontiguousarray is no fix for an array NumPy calls contiguous: that takes the W == 1 case,
    // which pixel_strides4 reads in place.)
    if (!(algo == ConvAlgo::direct && direct_is_depthwise(g)) && g.ho() > 1 && rs.h != g.wo() * rs.w)
        return py::module_::import("numpy").attr("ascontiguousarray")(r);  // (imported here only: 1-2 us a call)
    return r;
}

// Per-channel epilogue folded to y = act(scale' * conv + shift'), scale' = scale,
// shift' = scale * bias + shift. Owns its arrays.
template <typename T>
struct FoldedEpilogue {
    std::vector<T> scale, shift;
    Act act = Act::none;
    Epilogue<T> view() const {
        Epilogue<T> e;
        e.scale = scale.empty() ? nullptr : scale.data();
        e.shift = shift.empty() ? nullptr : shift.data();
        e.act = act;
        return e;
    }
};

// bias/scale/shift: None (empty), or a (K,) array of the conv's dtype, read into a vector (from an
// aligned copy when the caller's array is misaligned: its T loads would be undefined behaviour).
template <typename T>
std::vector<T> channel_vector(const py::object& v, Dtype dt, dim_t k, const char* name) {
    if (v.is_none()) return {};
    if (!py::isinstance<py::array>(v)) fail(std::string(name) + " must be a NumPy array of shape (K,)");
    const auto given = py::reinterpret_borrow<py::array>(v);
    if (py_checks::dtype_of(given, "conv2d", name) != dt)
        throw py::type_error(std::string("conv2d: ") + name + " must have the dtype of x and w");
    if (given.ndim() != 1 || given.shape(0) != k)
        fail(std::string(name) + " must have shape (" + std::to_string(k) + ",), got " + py_checks::shape_str(given));
    const py::array a = py_checks::aligned_input(given);
    const T* p = static_cast<const T*>(a.data());
    const inc_t st = a.strides(0) / static_cast<inc_t>(sizeof(T));
    std::vector<T> out(static_cast<std::size_t>(k));
    for (dim_t i = 0; i < k; ++i) out[i] = p[i * st];
    return out;
}

template <typename T>
FoldedEpilogue<T> fold(const py::object& bias, const py::object& scale, const py::object& shift, Dtype dt,
                       dim_t k, Act act) {
    const std::vector<T> bv = channel_vector<T>(bias, dt, k, "bias"), scv = channel_vector<T>(scale, dt, k, "scale"),
                         sfv = channel_vector<T>(shift, dt, k, "shift");
    const T* b = bias.is_none() ? nullptr : bv.data();
    const T* sc = scale.is_none() ? nullptr : scv.data();
    const T* sf = shift.is_none() ? nullptr : sfv.data();
    FoldedEpilogue<T> f;
    f.act = act;
    if (sc) f.scale.assign(sc, sc + k);
    if (b || sf) {
        f.shift.assign(static_cast<std::size_t>(k), T(0));
        for (dim_t i = 0; i < k; ++i) f.shift[i] = (b ? (sc ? sc[i] * b[i] : b[i]) : T(0)) + (sf ? sf[i] : T(0));
    }
    return f;
}

// Winograd F(2x2, 3x3) computes 3x3 stride-1 undilated single-group layers only.
void require_winograd_layer(ConvAlgo algo, const ConvGeom& g) {
    if (algo == ConvAlgo::winograd && !winograd_applies(g))
        fail("algorithm 'winograd' is for 3x3 kernels with stride 1, dilation 1 and groups=1 only");
}

// gemm needs a pointwise layer (else an error) and the image's pixels at one stride (else the
// implicit path: same arithmetic per output, no copy). Every layer has a direct form (conv.hpp).
ConvAlgo effective_algo(ConvAlgo algo, const ConvGeom& g, const Strides4& xs) {
    if (algo == ConvAlgo::gemm) {
        if (!g.pointwise()) fail("algorithm 'gemm' is for 1x1 kernels with stride 1 and no padding only");
        if (g.h > 1 && xs.h != g.w * xs.w) return ConvAlgo::convgemm;
    }
    require_winograd_layer(algo, g);
    return algo;
}

template <typename T>
void run(const ConvGeom& g, const py::array& x, const T* w, const Epilogue<T>& ep, const py::array& out,
         const py::object& residual, ConvAlgo algo, const PackedWeights<T>* pw) {
    ConvIO<T> io{};
    if (!residual.is_none()) {
        const auto r = py::reinterpret_borrow<py::array>(residual);
        io.r = static_cast<const T*>(r.data());
        io.rs = pixel_strides4(r, g, "residual");
    }
    io.x = static_cast<const T*>(x.data());
    io.xs = strides4(x, g.nhwc, "x");
    io.w = w;
    io.y = static_cast<T*>(const_cast<void*>(out.data()));
    io.ys = pixel_strides4(out, g, "out");
    io.ep = ep;
    algo = effective_algo(algo, g, io.xs);
    const int nt = num_threads();  // the calling thread's ICV
    const Engine<T>& e = engine<T>();
    py::gil_scoped_release nogil;
    conv2d<T>(g, io, algo, pw, e, nt);
}

void conv2d_entry(const py::array& x, const py::array& w, const py::object& bias, const py::object& scale,
                  const py::object& shift, const py::array& out, const py::object& stride_obj,
                  const py::object& pad_obj, const py::object& dil_obj, const py::object& groups_obj,
                  const std::string& layout, const std::string& activation, const std::string& algorithm,
                  const py::object& residual) {
    const bool nhwc = parse_layout(layout);
    const ConvAlgo algo = parse_algo(algorithm);
    const Act act = parse_act(activation);
    const Pair stride = ints_arg<2>(stride_obj, "conv2d", "stride"), dil = ints_arg<2>(dil_obj, "conv2d", "dilation");
    const Quad pad = ints_arg<4>(pad_obj, "conv2d", "padding");
    const dim_t groups = int_arg(groups_obj, "conv2d", "groups");
    const Dtype dt = py_checks::dtype_of(x, "conv2d", "x");
    py_checks::require_same_dtype(dt, py_checks::dtype_of(w, "conv2d", "w"), "conv2d", "x", "w");
    require_4d(w, "w", "(K, C/groups, R, S)");
    const ConvGeom g = make_geom(x, w.shape(0), w.shape(1), w.shape(2), w.shape(3), groups, nhwc, stride, pad, dil,
                                 "conv2d");
    check_out(out, dt, g, algo, x);
    py_checks::require_no_overlap(out, w, "conv2d", "out", "w");
    // Inputs read from aligned copies where misaligned; w also where not C-contiguous (the
    // kernels read it as dense K x Cg x R x S).
    const py::array x2 = py_checks::aligned_input(x);
    const py::array w2 = py_checks::aligned_input(w, true);
    const py::object r = residual_input(residual, dt, g, algo, out);
    if (dt == Dtype::f32) {
        const auto f = fold<float>(bias, scale, shift, dt, g.k, act);
        run<float>(g, x2, static_cast<const float*>(w2.data()), f.view(), out, r, algo, nullptr);
    } else {
        const auto f = fold<double>(bias, scale, shift, dt, g.k, act);
        run<double>(g, x2, static_cast<const double*>(w2.data()), f.view(), out, r, algo, nullptr);
    }
}

template <typename T>
void pack_into(ConvWeights& cw, const py::object& bias, const py::object& scale, const py::object& shift, Act act) {
    cw.folded = std::make_shared<FoldedEpilogue<T>>(fold<T>(bias, scale, shift, cw.dt, cw.k, act));
    ConvGeom g{};
    g.n = 1, g.c = cw.cg * cw.groups, g.k = cw.k, g.r = cw.r, g.s = cw.s, g.groups = cw.groups, g.nhwc = cw.nhwc;
    cw.packed = pack_weights<T>(g, static_cast<const T*>(cw.w.data()), engine<T>());
}

ConvWeights make_weights(const py::array& w, const py::object& bias, const py::object& scale,
                         const py::object& shift, const py::object& groups_obj, const std::string& layout,
                         const std::string& activation) {
    ConvWeights cw{};
    cw.dt = py_checks::dtype_of(w, "Conv2d", "w");
    cw.nhwc = parse_layout(layout);
    const Act act = parse_act(activation);
    const dim_t groups = int_arg(groups_obj, "Conv2d", "groups");
    require_4d(w, "w", "(K, C/groups, R, S)");
    cw.k = w.shape(0), cw.cg = w.shape(1), cw.r = w.shape(2), cw.s = w.shape(3), cw.groups = groups;
    if (groups < 1 || cw.k % groups) fail("groups must be >= 1 and divide the output channels");
    // (C = Cg * groups: the geometry of every later call is checked against it, so it must fit.)
    dim_t c;
    if (mul_overflows(cw.cg, groups, &c))
        throw std::overflow_error("Conv2d: groups=" + std::to_string(groups) + " is too large: C/groups * groups overflows");
    // Our own contiguous copy (NumPy aligns it): later changes to the caller's array do not reach
    // the plan, and a misaligned w is read through NumPy's copy, never with T loads.
    cw.w = py::array(w.dtype(), std::vector<py::ssize_t>{cw.k, cw.cg, cw.r, cw.s});
    py::module_::import("numpy").attr("copyto")(cw.w, w);
    if (cw.dt == Dtype::f32) pack_into<float>(cw, bias, scale, shift, act);
    else pack_into<double>(cw, bias, scale, shift, act);
    return cw;
}

template <typename T>
void run_packed(const ConvWeights& cw, const PackedCall& c) {
    const auto* f = static_cast<const FoldedEpilogue<T>*>(cw.folded.get());
    // Panels depend only on the micro-kernel, so they stay valid across hpc_kernels.configure(): a
    // kernel configured since the plan was built gets its own panels on first use (PackedWeights::find).
    const auto* pw = static_cast<const PackedWeights<T>*>(cw.packed.get());
    run<T>(c.g, c.x, static_cast<const T*>(cw.w.data()), f->view(), c.out, c.residual, c.algo, pw);
}

void conv2d_packed_entry(const ConvWeights& cw, const py::array& x, const py::array& out, const py::object& stride_obj,
                         const py::object& pad_obj, const py::object& dil_obj, const std::string& algorithm,
                         const py::object& residual) {
    run_packed_call(cw, check_packed_call(cw, x, out, stride_obj, pad_obj, dil_obj, algorithm, residual));
}

template <typename T>
void lower_typed(const ConvGeom& g, const py::array& x, const py::array& out) {
    const Strides4 xs = strides4(x, g.nhwc, "x");
    const T* xp = static_cast<const T*>(x.data());
    T* op = static_cast<T*>(const_cast<void*>(out.data()));
    const dim_t per_image = g.kd() * g.pixels();
    const int nt = num_threads();
    py::gil_scoped_release nogil;
    for (dim_t img = 0; img < g.n; ++img) {
        const ImageView<T> v{xp + img * xs.n, xs, &g};
        if (g.nhwc) lower_nhwc(v, g.c, op + img * per_image, nt);
        else lower_nchw(v, g.c, op + img * per_image, nt);
    }
}

// The lowered matrix of every image: NCHW (N, C*R*S, Ho*Wo), NHWC (N, Ho*Wo, R*S*C).
py::array im2col_entry(const py::array& x, const py::object& ksize_obj, const py::object& stride_obj,
                       const py::object& pad_obj, const py::object& dil_obj, const std::string& layout) {
    const bool nhwc = parse_layout(layout);
    const Pair ksize = ints_arg<2>(ksize_obj, "im2col", "kernel_size");
    const Pair stride = ints_arg<2>(stride_obj, "im2col", "stride"), dil = ints_arg<2>(dil_obj, "im2col", "dilation");
    const Quad pad = ints_arg<4>(pad_obj, "im2col", "padding");
    const Dtype dt = py_checks::dtype_of(x, "im2col", "x");
    if (ksize[0] < 1 || ksize[1] < 1) throw py::value_error("im2col: kernel_size must be >= 1");
    require_4d(x, "x", nhwc ? "(N, H, W, C)" : "(N, C, H, W)");
    const dim_t c = x.shape(nhwc ? 3 : 1);
    const ConvGeom g = make_geom(x, c, c, ksize[0], ksize[1], 1, nhwc, stride, pad, dil, "im2col");
    // The result is larger than x, w and y (which make_geom bounds): R*S copies of every pixel.
    check_bytes("im2col: the lowered matrix (N, C, R, S, Ho, Wo)", {g.n, g.c, g.r, g.s, g.ho(), g.wo()},
                static_cast<std::size_t>(x.itemsize()));
    const dim_t kd = g.kd(), pix = g.pixels();
    py::array out(x.dtype(), nhwc ? std::vector<py::ssize_t>{g.n, pix, kd} : std::vector<py::ssize_t>{g.n, kd, pix});
    const py::array x2 = py_checks::aligned_input(x);
    if (dt == Dtype::f32) lower_typed<float>(g, x2, out);
    else lower_typed<double>(g, x2, out);
    return out;
}

py::int_ workspace_entry(const py::object& xshape_obj, const py::object& wshape_obj, const py::object& stride_obj,
                         const py::object& pad_obj, const py::object& dil_obj, const py::object& groups_obj,
                         const std::string& layout, const std::string& dtype, const std::string& algorithm,
                         const py::object& threads_obj) {
    constexpr const char* fn = "conv2d_workspace";
    const Quad xs = ints_arg<4>(xshape_obj, fn, "x_shape"), ws = ints_arg<4>(wshape_obj, fn, "w_shape");
    const Pair stride = ints_arg<2>(stride_obj, fn, "stride"), dil = ints_arg<2>(dil_obj, fn, "dilation");
    const Quad pad = ints_arg<4>(pad_obj, fn, "padding");
    const dim_t groups = int_arg(groups_obj, fn, "groups"), threads = int_arg(threads_obj, fn, "threads");
    const bool nhwc = parse_layout(layout);
    const ConvAlgo algo = parse_algo(algorithm);
    if (dtype != "float32" && dtype != "float64")
        throw py::type_error("conv2d_workspace: dtype must be float32 or float64, got " + dtype);
    if (threads > std::numeric_limits<int>::max())
        throw py::value_error("conv2d_workspace: threads must be < 2^31, got " + std::to_string(threads));
    const std::size_t elem = dtype == "float32" ? sizeof(float) : sizeof(double);
    const Quad nchw = nhwc ? Quad{xs[0], xs[3], xs[1], xs[2]} : xs;
    const ConvGeom g = make_geom(nchw, ws[0], ws[1], ws[2], ws[3], groups, nhwc, stride, pad, dil, elem, fn);
    require_winograd_layer(algo, g);
    const int nt = threads > 0 ? static_cast<int>(threads) : num_threads();
    if (dtype == "float32") return py::int_(conv2d_workspace<float>(g, algo, engine<float>(), nt));
    return py::int_(conv2d_workspace<double>(g, algo, engine<double>(), nt));
}

// Bytes of the packed forms a plan holds so far (made on first use: see PackedWeights).
template <typename T>
std::size_t packed_bytes(const ConvWeights& cw) {
    const auto* pw = static_cast<const PackedWeights<T>*>(cw.packed.get());
    std::lock_guard<std::mutex> lock(pw->mutex);
    std::size_t n = pw->taps_rsc.size;
    for (const auto& e : pw->entries) n += e.panels.size;
    if (pw->winograd) n += pw->winograd->u.size;
    return n * sizeof(T);
}

}  // namespace

PackedCall check_packed_call(const ConvWeights& cw, const py::array& x, const py::array& out, const py::object& stride_obj,
                             const py::object& pad_obj, const py::object& dil_obj, const std::string& algorithm,
                             const py::object& residual) {
    ConvAlgo algo = parse_algo(algorithm);
    const Pair stride = ints_arg<2>(stride_obj, "conv2d", "stride"), dil = ints_arg<2>(dil_obj, "conv2d", "dilation");
    const Quad pad = ints_arg<4>(pad_obj, "conv2d", "padding");
    const Dtype dt = py_checks::dtype_of(x, "conv2d", "x");
    py_checks::require_same_dtype(dt, cw.dt, "conv2d", "x", "the plan's weights");
    const ConvGeom g = make_geom(x, cw.k, cw.cg, cw.r, cw.s, cw.groups, cw.nhwc, stride, pad, dil, "conv2d");
    check_out(out, dt, g, algo, x);
    const py::array x2 = py_checks::aligned_input(x);
    const py::object r = residual_input(residual, dt, g, algo, out);
    algo = effective_algo(algo, g, strides4(x2, g.nhwc, "x"));
    return PackedCall{g, algo, x2, out, r};
}

void run_packed_call(const ConvWeights& cw, const PackedCall& call) {
    if (cw.dt == Dtype::f32) run_packed<float>(cw, call);
    else run_packed<double>(cw, call);
}

template <typename T>
BandStep<T> band_step(const ConvWeights& cw, const PackedCall& c) {
    BandStep<T> st{};
    st.g = c.g;
    st.algo = c.algo;
    st.w = static_cast<const T*>(cw.w.data());
    st.pw = static_cast<const PackedWeights<T>*>(cw.packed.get());
    st.ep = static_cast<const FoldedEpilogue<T>*>(cw.folded.get())->view();
    if (!c.residual.is_none()) {
        const auto r = py::reinterpret_borrow<py::array>(c.residual);
        st.r = static_cast<const T*>(r.data());
        st.rs = pixel_strides4(r, c.g, "residual");
    }
    return st;
}

template BandStep<float> band_step<float>(const ConvWeights&, const PackedCall&);
template BandStep<double> band_step<double>(const ConvWeights&, const PackedCall&);

void register_conv(py::module_& m) {
    py::class_<ConvWeights>(m, "ConvWeights", "Conv2d weights: a private copy, packed for the engine's micro-kernels")
        .def(py::init(&make_weights), py::arg("w").noconvert(), py::arg("bias"), py::arg("scale"),
             py::arg("shift"), py::arg("groups"), py::arg("layout"), py::arg("activation"))
        .def_property_readonly("shape", [](const ConvWeights& cw) { return py::make_tuple(cw.k, cw.cg, cw.r, cw.s); })
        .def_property_readonly("groups", [](const ConvWeights& cw) { return cw.groups; })
        .def_property_readonly("layout", [](const ConvWeights& cw) { return cw.nhwc ? "NHWC" : "NCHW"; })
        .def_property_readonly("dtype", [](const ConvWeights& cw) { return cw.w.dtype(); })
        // The plan's own contiguous copy of w (Conv2d pickles from it instead of keeping another).
        .def_property_readonly("weights", [](const ConvWeights& cw) { return cw.w; })
        .def_property_readonly("packed_bytes", [](const ConvWeights& cw) {
            return cw.dt == Dtype::f32 ? packed_bytes<float>(cw) : packed_bytes<double>(cw);
        });
    m.def("conv2d", &conv2d_entry, py::arg("x").noconvert(), py::arg("w").noconvert(), py::arg("bias"),
          py::arg("scale"), py::arg("shift"), py::arg("out").noconvert(), py::arg("stride"), py::arg("padding"),
          py::arg("dilation"), py::arg("groups"), py::arg("layout"), py::arg("activation"), py::arg("algorithm"),
          py::arg("residual") = py::none(),
          "y := act(scale * (conv2d(x, w) + bias) + shift + residual) into out (arguments already normalised)");
    m.def("conv2d_packed", &conv2d_packed_entry, py::arg("weights"), py::arg("x").noconvert(),
          py::arg("out").noconvert(), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
          py::arg("algorithm"), py::arg("residual") = py::none(),
          "conv2d with a ConvWeights plan's packed weights and epilogue (and a residual)");
    m.def("im2col", &im2col_entry, py::arg("x").noconvert(), py::arg("kernel_size"), py::arg("stride"),
          py::arg("padding"), py::arg("dilation"), py::arg("layout"));
    m.def("conv2d_workspace", &workspace_entry, py::arg("x_shape"), py::arg("w_shape"), py::arg("stride"),
          py::arg("padding"), py::arg("dilation"), py::arg("groups"), py::arg("layout"), py::arg("dtype"),
          py::arg("algorithm"), py::arg("threads") = 0);
}

}  // namespace kernels
