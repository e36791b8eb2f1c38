// Python entry points of the int8 convolution in hpc_kernels._cpu: qconv2d and QConvWeights (the
// packed weights of QConv2d). x, out and residual arrive as (n, c, h, w) views whatever their
// layout (kernels/backends/cpu/quantized.py transposes NHWC views, zero-copy); the Python front
// end has checked every argument, the checks here keep a direct call inside its arrays.
#include <pybind11/stl.h>

#include <array>
#include <cmath>
#include <memory>
#include <string>

#include "../conv/qconv.hpp"
#include "../core/threads.hpp"
#include "qconv_entry.hpp"
#include "qentry_common.hpp"
#include "qgemm_entry.hpp"

namespace kernels {

namespace {

Strides4 strides4(const py::array& x, const char* fn, const char* name) {
    if (x.ndim() != 4) throw py::value_error(std::string(fn) + ": " + name + " must be 4-D (n, c, h, w)");
    const std::vector<inc_t> s = strides_of(x);
    return {s[0], s[1], s[2], s[3]};
}

// The kernels address output pixel j (j < ho*wo) at j * (W stride): H and W must form one stride
// (after as_pixel_index, conv/conv_geometry.hpp: one output column steps by H's stride).
Strides4 pixel_strides(const py::array& x, const ConvGeom& g, const char* fn, const char* name) {
    const Strides4 s = as_pixel_index(strides4(x, fn, name), g);
    if (g.ho() > 1 && s.h != g.wo() * s.w)
        throw py::value_error(std::string(fn) + ": " + name + "'s H and W must form one stride");
    return s;
}

// The packed weights of a QConv2d, with the array they came from (the fallback when the int8
// kernel changed since: another ISA cap).
struct QConvWeightsPy {
    py::array w;
    dim_t groups;
    bool w_unsigned;
    QConvWeights packed;
};

}  // namespace

// qconv2d's arguments after every check: the engine's arguments and the arrays they point into
// (the zero points, bias and multipliers as int32/float32 vectors, the float residual).
struct QConvCall {
    QConvArgs a;
    QVectors v;
    std::optional<py::array> res;
};

namespace {

QConvCall check_qconv(const py::array& x, const py::array& w, const py::array& out, std::array<dim_t, 2> stride,
                      std::array<dim_t, 4> padding, std::array<dim_t, 2> dilation, dim_t groups, int x_zp,
                      const py::array& w_zp, const py::object& bias, const std::string& mode, const py::object& mult,
                      float inv_out_scale, float hi, const std::string& act, int out_zp, const py::object& residual,
                      const py::object& packed_obj, const py::object& skip, const py::object& add_obj) {
    const char* fn = "qconv2d";
    const QOperand X = q_operand(x, fn, "x"), W = q_operand(w, fn, "w");
    if (w.ndim() != 4 || !(w.flags() & py::array::c_style)) throw py::value_error("qconv2d: w must be 4-D and C-contiguous");
    QConvCall call;
    QConvArgs& a = call.a;
    ConvGeom& g = a.g;
    g.n = x.shape(0), g.c = x.shape(1), g.h = x.shape(2), g.w = x.shape(3);
    g.k = w.shape(0), g.r = w.shape(2), g.s = w.shape(3), g.groups = groups;
    g.sh = stride[0], g.sw = stride[1], g.pt = padding[0], g.pb = padding[1], g.pl = padding[2], g.pr = padding[3];
    g.dh = dilation[0], g.dw = dilation[1], g.nhwc = false;
    check_geometry(g, 4, fn);
    if (w.shape(1) * groups != g.c) throw py::value_error("qconv2d: w's channels do not match x and groups");
    if (out.ndim() != 4 || out.shape(0) != g.n || out.shape(1) != g.k || out.shape(2) != g.ho() || out.shape(3) != g.wo())
        throw py::value_error("qconv2d: out has the wrong shape");
    const QOut O = q_output(out, mode, fn);
    py_checks::require_no_overlap(out, x, fn, "out", "x");
    py_checks::require_no_overlap(out, w, fn, "out", "w");
    call.v = q_vectors(g.k, w_zp, bias, mult, fn);
    const QVectors& V = call.v;
    a.x = reinterpret_cast<const std::uint8_t*>(X.p), a.xs = strides4(x, fn, "x"), a.x_signed = X.is_signed;
    a.w = W.p, a.w_unsigned = W.is_unsigned;
    a.y = O.p, a.ys = pixel_strides(out, g, fn, "out"), a.mode = O.mode;
    if (!residual.is_none()) {
        call.res = q_residual(residual, out, fn);
        a.res = static_cast<const float*>(call.res->data()), a.rs = pixel_strides(*call.res, g, fn, "residual");
    }
    if (!skip.is_none()) {
        // The 8-bit skip tensor of the QLinearAdd epilogue: out's type and shape, read in place (no
        // copy: a view of any strides whose H and W form one stride), never overlapping out.
        if (!py::isinstance<py::array>(skip)) throw py::type_error("qconv2d: skip must be a numpy.ndarray");
        const py::array s = py::reinterpret_borrow<py::array>(skip);
        if (O.mode != QMode::u8 && O.mode != QMode::s8) throw py::value_error("qconv2d: skip needs a requantized (8-bit) output");
        if (s.itemsize() != 1 || s.dtype().kind() != out.dtype().kind()) throw py::type_error("qconv2d: skip must have out's dtype");
        bool same = s.ndim() == 4;
        for (py::ssize_t d = 0; same && d < 4; ++d) same = s.shape(d) == out.shape(d);
        if (!same) throw py::value_error("qconv2d: skip must have the output's shape");
        py_checks::require_no_overlap(out, s, fn, "out", "skip");
        a.skip = static_cast<const std::uint8_t*>(s.data()), a.ss = pixel_strides(s, g, fn, "skip");
        // No default for the formula's parameters: a skip without them would silently add nothing.
        if (add_obj.is_none()) throw py::value_error("qconv2d: skip needs add = (ra, rb, k), the QLinearAdd's parameters");
        const auto add = add_obj.cast<std::array<float, 3>>();
        for (float v : add)
            if (!std::isfinite(v)) throw py::value_error("qconv2d: the skip addition's parameters must be finite");
        a.add_ra = add[0], a.add_rb = add[1], a.add_k = add[2];
    }
    a.x_zp = x_zp, a.w_zp = V.zp, a.bias = V.bias, a.mult = V.mult;
    a.inv_out_scale = inv_out_scale, a.hi = hi, a.act = q_act(act, fn), a.out_zp = out_zp;
    if (!packed_obj.is_none()) {
        const QConvWeightsPy& p = packed_obj.cast<const QConvWeightsPy&>();
        if (p.groups != groups || !p.w.is(w)) throw py::value_error("qconv2d: packed weights of another layer");
        a.packed = &p.packed.packed, a.packed_mr = p.packed.mr, a.packed_k = p.packed.k_len, a.packed_rsc = p.packed.rsc;
        a.colsum = p.packed.colsum.data();
    }
    return call;
}

}  // namespace

void run_qconv_call(const QConvCall& call) {
    const int nt = num_threads();
    const QCandidate cand = qcandidate();
    py::gil_scoped_release nogil;
    qconv2d(call.a, cand, nt);
}

namespace {

py::array qconv2d_entry(const py::array& x, const py::array& w, const py::array& out, std::array<dim_t, 2> stride,
                        std::array<dim_t, 4> padding, std::array<dim_t, 2> dilation, dim_t groups, int x_zp,
                        const py::array& w_zp, const py::object& bias, const std::string& mode, const py::object& mult,
                        float inv_out_scale, float hi, const std::string& act, int out_zp, const py::object& residual,
                        const py::object& packed_obj, const py::object& skip, const py::object& add_obj) {
    run_qconv_call(check_qconv(x, w, out, stride, padding, dilation, groups, x_zp, w_zp, bias, mode, mult, inv_out_scale,
                                hi, act, out_zp, residual, packed_obj, skip, add_obj));
    return out;
}

// An NHWC array as its (n, c, h, w) view (the entry's form), zero-copy; NCHW arrays as they are.
py::array nchw_view(const py::array& a, bool nhwc) {
    if (!nhwc) return a;
    if (a.ndim() != 4) throw py::value_error("conv2d_chain: a qconv step's arrays must be 4-D");
    return py::array(a.dtype(), std::vector<py::ssize_t>{a.shape(0), a.shape(3), a.shape(1), a.shape(2)},
                     std::vector<py::ssize_t>{a.strides(0), a.strides(3), a.strides(1), a.strides(2)}, a.data(), a);
}

}  // namespace

std::shared_ptr<const QConvCall> check_qconv_step(const py::tuple& t, const py::array& x, const py::array& out,
                                                  const py::object& skip) {
    if (t.size() != kQConvStepItems)
        throw py::value_error("conv2d_chain: a qconv step has " + std::to_string(kQConvStepItems) + " items, got " +
                              std::to_string(t.size()));
    const bool nhwc = t[4].cast<bool>();
    // A plan bound with a skip addition has its parameters (add) and must get the tensor: without
    // it the entry would write the convolution alone.
    if (skip.is_none() && !t[20].is_none()) throw py::value_error("conv2d_chain: a qconv step with a skip addition needs its skip tensor");
    // The writable view of out: a view's writeable flag follows its base, which out is.
    const py::object s = skip.is_none() ? skip : py::object(nchw_view(py::reinterpret_borrow<py::array>(skip), nhwc));
    return std::make_shared<const QConvCall>(check_qconv(
        nchw_view(x, nhwc), t[5].cast<py::array>(), nchw_view(out, nhwc), t[6].cast<std::array<dim_t, 2>>(),
        t[7].cast<std::array<dim_t, 4>>(), t[8].cast<std::array<dim_t, 2>>(), t[9].cast<dim_t>(), t[10].cast<int>(),
        t[11].cast<py::array>(), t[12], t[13].cast<std::string>(), t[14], t[15].cast<float>(), t[16].cast<float>(),
        t[17].cast<std::string>(), t[18].cast<int>(), py::none(), t[19], s, t[20]));
}

std::shared_ptr<const QConvCall> check_qgemm_step(const py::tuple& t, const py::array& a, const py::array& out) {
    // (M, K) and (M, N) as the (M, 1, 1, K) and (M, 1, 1, N) NHWC images of the 1x1 plan.
    auto image = [](const py::array& m, const char* name) {
        if (m.ndim() != 2) throw py::value_error(std::string("conv2d_chain: a qgemm step's ") + name + " must be 2-D");
        const py::ssize_t r = m.shape(0), c = m.shape(1), sr = m.strides(0), sc = m.strides(1);
        return py::array(m.dtype(), std::vector<py::ssize_t>{r, 1, 1, c}, std::vector<py::ssize_t>{sr, sr, sr, sc}, m.data(), m);
    };
    if (t.size() != kQConvStepItems || !t[4].cast<bool>())
        throw py::value_error("conv2d_chain: a qgemm step is an NHWC qconv step of " + std::to_string(kQConvStepItems) + " items");
    return check_qconv_step(t, image(a, "a"), image(out, "out"), py::none());
}

void def_qconv(py::module_& m) {
    m.def("qconv2d", &qconv2d_entry, py::arg("x"), py::arg("w"), py::arg("out"), py::arg("stride"), py::arg("padding"),
          py::arg("dilation"), py::arg("groups"), py::arg("x_zp"), py::arg("w_zp"), py::arg("bias"), py::arg("mode"),
          py::arg("mult"), py::arg("inv_out_scale"), py::arg("hi"), py::arg("act"), py::arg("out_zp"),
          py::arg("residual"), py::arg("packed") = py::none(), py::arg("skip") = py::none(),
          py::arg("add") = py::none(),
          "int8 convolution into out ((n, c, h, w) views; see qconv_entry.cpp)");
    py::class_<QConvWeightsPy, std::shared_ptr<QConvWeightsPy>>(m, "QConvWeights",
                                                                 "QConv2d's weights packed once, with their column sums")
        .def(py::init([](const py::array& w, dim_t groups, bool rsc) {
                 const QOperand W = q_operand(w, "QConvWeights", "w");
                 if (w.ndim() != 4 || !(w.flags() & py::array::c_style) || groups < 1 || w.shape(0) % groups)
                     throw py::value_error("QConvWeights: w must be a C-contiguous (K, C/groups, R, S) array, groups | K");
                 auto p = std::make_shared<QConvWeightsPy>();
                 p->w = w, p->groups = groups, p->w_unsigned = W.is_unsigned;
                 const dim_t kd = w.shape(1) * w.shape(2) * w.shape(3);
                 p->packed = pack_qconv_weights(W.p, w.shape(0), kd, w.shape(2) * w.shape(3), groups, W.is_unsigned, rsc);
                 return p;
             }),
             py::arg("w"), py::arg("groups"), py::arg("rsc") = false)
        .def_property_readonly("weights", [](const QConvWeightsPy& p) { return p.w; });
}

}  // namespace kernels
