// Python entry points of the bf16 engine in hpc_kernels._cpu: bgemm (batched, one batch shape),
// binfo (the bf16 kernel and blocks in use) and bf16_peak. bf16 arrays arrive as their uint16
// views (the extension needs no ml_dtypes); the Python front end (kernels/_api/bf16.py) has checked
// every argument; the checks here keep a direct call from reading or writing outside its arrays.
#include "bgemm_entry.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "../arch/table.hpp"
#include "../core/threads.hpp"
#include "../conv/bdepthwise.hpp"
#include "../gemm/bgemm.hpp"
#include "array_checks.hpp"

namespace kernels {

namespace {

using namespace py_checks;

std::vector<inc_t> strides_of(const py::array& x) {
    std::vector<inc_t> s(static_cast<std::size_t>(x.ndim()));
    for (py::ssize_t d = 0; d < x.ndim(); ++d) s[d] = x.strides(d) / static_cast<inc_t>(x.itemsize());
    return s;
}

bool is_u16(const py::array& x) { return x.dtype().is(py::dtype::of<std::uint16_t>()); }
bool is_f32(const py::array& x) { return x.dtype().is(py::dtype::of<float>()); }

// scale/shift: float32, (channels,) shared by every batch entry, or (B..., channels) with out's
// batch shape (the groups of a convolution batched into one call: each group its own channels);
// contiguous along the channels, any batch strides.
py::array f32_vector(const py::object& v, py::ssize_t len, const py::array& out, const char* name) {
    py::array x = py::array::ensure(v);
    const py::ssize_t nd = out.ndim();
    bool ok = x && is_f32(x) && (x.ndim() == 1 || x.ndim() == nd - 1) && x.shape(x.ndim() - 1) == len;
    if (ok && x.ndim() == nd - 1)
        for (py::ssize_t d = 0; d < nd - 2; ++d) ok = ok && x.shape(d) == out.shape(d);
    if (!ok)
        throw py::value_error(std::string("bgemm: ") + name + " must be float32 of shape (channels,) or out's batch shape + (channels,)");
    if (len > 1 && x.strides(x.ndim() - 1) != static_cast<py::ssize_t>(sizeof(float)))
        x = py::array::ensure(x, py::array::c_style);
    return aligned_input(x);
}

// a (B..., M, K) and b (B..., K, N) bf16 bits; out (B..., M, N) bf16 bits or float32, also C for
// beta != 0; scale/shift per channel (axis channel_axis of out's last two: 0 rows, 1 columns);
// residual float32 of out's shape.
py::array bgemm_entry(py::array a, py::array b, py::array out, double alpha, double beta, const py::object& scale,
                      const py::object& shift, const std::string& act, const py::object& residual, int channel_axis) {
    const py::ssize_t nd = out.ndim();
    if (nd < 2 || a.ndim() != nd || b.ndim() != nd) throw py::value_error("bgemm: a, b and out need the same rank >= 2");
    if (!is_u16(a) || !is_u16(b)) throw py::type_error("bgemm: a and b must be bfloat16 arrays viewed as uint16");
    const bool out_bf16 = is_u16(out);
    if (!out_bf16 && !is_f32(out)) throw py::type_error("bgemm: out must be bfloat16 (as uint16) or float32");
    const py::ssize_t M = out.shape(nd - 2), N = out.shape(nd - 1), K = a.shape(nd - 1);
    if (a.shape(nd - 2) != M || b.shape(nd - 2) != K || b.shape(nd - 1) != N)
        throw py::value_error("bgemm: shapes of a, b and out do not agree");
    for (py::ssize_t d = 0; d < nd - 2; ++d)
        if (a.shape(d) != out.shape(d) || b.shape(d) != out.shape(d))
            throw py::value_error("bgemm: a, b and out must have the same batch shape");
    require_writable_output(out, "bgemm", "out");
    inc_t dummy[64];
    element_strides(out, dummy, "bgemm", "out");
    if (self_overlapping(out, "bgemm", "out")) throw py::value_error("bgemm: out has overlapping elements");
    require_no_overlap(out, a, "bgemm", "out", "a");
    require_no_overlap(out, b, "bgemm", "out", "b");
    a = aligned_input(a), b = aligned_input(b);
    const py::ssize_t channels = channel_axis == 0 ? M : N;
    std::optional<py::array> sc, sh, res;
    if (!scale.is_none()) sc = f32_vector(scale, channels, out, "scale");
    if (!shift.is_none()) sh = f32_vector(shift, channels, out, "shift");
    // Batch strides (elements) of per-batch vectors; 0 for shared ones.
    std::vector<inc_t> ssc(nd, 0), ssh(nd, 0);
    if (sc && sc->ndim() == nd - 1) ssc = strides_of(*sc);
    if (sh && sh->ndim() == nd - 1) ssh = strides_of(*sh);
    if (!residual.is_none()) {
        res = aligned_input(py::array::ensure(residual));
        if (!is_f32(*res) || res->ndim() != nd)
            throw py::value_error("bgemm: residual must be float32 of out's shape");
        for (py::ssize_t d = 0; d < nd; ++d)
            if (res->shape(d) != out.shape(d)) throw py::value_error("bgemm: residual must be float32 of out's shape");
    }
    Act ac = Act::none;
    if (act == "relu") ac = Act::relu;
    else if (act == "relu6") ac = Act::relu6;
    else if (act != "none" && !act.empty()) throw py::value_error("bgemm: act must be none, relu or relu6");
    const std::vector<inc_t> sa = strides_of(a), sb = strides_of(b), so = strides_of(out);
    const std::vector<inc_t> sr = res ? strides_of(*res) : std::vector<inc_t>{};
    dim_t count = 1;
    for (py::ssize_t d = 0; d < nd - 2; ++d) count *= out.shape(d);
    BGemmArgs g;
    g.m = M, g.n = N, g.k = K;
    g.rs_a = sa[nd - 2], g.cs_a = sa[nd - 1];
    g.rs_b = sb[nd - 2], g.cs_b = sb[nd - 1];
    g.rs_c = so[nd - 2], g.cs_c = so[nd - 1];
    g.alpha = static_cast<float>(alpha), g.beta = static_cast<float>(beta);
    g.c_bf16 = out_bf16;
    const float* psc = sc ? static_cast<const float*>(sc->data()) : nullptr;
    const float* psh = sh ? static_cast<const float*>(sh->data()) : nullptr;
    g.ep.act = ac;
    g.ep.along_rows = channel_axis == 0;
    if (res) g.ep.rs_r = sr[nd - 2], g.ep.cs_r = sr[nd - 1];
    const auto* pa = static_cast<const std::uint16_t*>(a.data());
    const auto* pb = static_cast<const std::uint16_t*>(b.data());
    const float* pr = res ? static_cast<const float*>(res->data()) : nullptr;
    char* po = static_cast<char*>(out.mutable_data());
    const inc_t es = static_cast<inc_t>(out.itemsize());
    const int nt = num_threads();
    const BCandidate cand = bcandidate();  // under the GIL, as configure() changes the engine under it
    {
        py::gil_scoped_release nogil;
        for (dim_t idx = 0; idx < count; ++idx) {
            inc_t oa = 0, ob = 0, oo = 0, orr = 0, osc = 0, osh = 0;
            dim_t rem = idx;
            for (py::ssize_t d = nd - 3; d >= 0; --d) {
                const dim_t i = rem % out.shape(d);
                rem /= out.shape(d);
                oa += i * sa[d], ob += i * sb[d], oo += i * so[d];
                if (res) orr += i * sr[d];
                osc += i * ssc[d], osh += i * ssh[d];
            }
            g.a = pa + oa, g.b = pb + ob, g.c = po + oo * es;
            g.ep.res = pr ? pr + orr : nullptr;
            g.ep.scale = psc ? psc + osc : nullptr;
            g.ep.shift = psh ? psh + osh : nullptr;
            bgemm(g, cand, nt);
        }
    }
    return out;
}

// Depthwise bf16 convolution: x (N, C, H, W) or, nhwc, (N, H, W, C) as uint16; taps (C, R, S)
// uint16 contiguous; out bf16 bits or float32 of the output shape in x's layout; scale/shift
// float32 (C,) or None; residual float32 of out's shape or None. kernels/_api checked the layer.
py::array bdepthwise_entry(py::array x, py::array taps, py::array out, std::pair<dim_t, dim_t> stride,
                           std::pair<dim_t, dim_t> top_left, std::pair<dim_t, dim_t> dilation, const py::object& scale,
                           const py::object& shift, const std::string& act, const py::object& residual, bool nhwc) {
    if (x.ndim() != 4 || out.ndim() != 4 || taps.ndim() != 3) throw py::value_error("bdepthwise: x, out 4-D, taps 3-D");
    if (!is_u16(x) || !is_u16(taps)) throw py::type_error("bdepthwise: x and taps must be bfloat16 viewed as uint16");
    const bool out_bf16 = is_u16(out);
    if (!out_bf16 && !is_f32(out)) throw py::type_error("bdepthwise: out must be bfloat16 (as uint16) or float32");
    // logical (n, c, h, w) axes of the arrays
    const int ax[4] = {0, nhwc ? 3 : 1, nhwc ? 1 : 2, nhwc ? 2 : 3};
    const dim_t C = x.shape(ax[1]);
    if (out.shape(0) != x.shape(0) || out.shape(ax[1]) != C || taps.shape(0) != C)
        throw py::value_error("bdepthwise: x, taps and out disagree on N or C");
    require_writable_output(out, "bdepthwise", "out");
    inc_t dummy[8];
    element_strides(out, dummy, "bdepthwise", "out");
    require_no_overlap(out, x, "bdepthwise", "out", "x");
    x = aligned_input(x), taps = aligned_input(taps, true);
    std::optional<py::array> sc, sh, res;
    if (!scale.is_none()) sc = f32_vector(scale, C, out, "scale");
    if (!shift.is_none()) sh = f32_vector(shift, C, out, "shift");
    if ((sc && sc->ndim() != 1) || (sh && sh->ndim() != 1)) throw py::value_error("bdepthwise: scale/shift must be (C,)");
    if (!residual.is_none()) {
        res = aligned_input(py::array::ensure(residual));
        if (!is_f32(*res) || res->ndim() != 4) throw py::value_error("bdepthwise: residual must be float32 of out's shape");
        for (int d = 0; d < 4; ++d)
            if (res->shape(d) != out.shape(d)) throw py::value_error("bdepthwise: residual must be float32 of out's shape");
    }
    Act ac = Act::none;
    if (act == "relu") ac = Act::relu;
    else if (act == "relu6") ac = Act::relu6;
    else if (act != "none" && !act.empty()) throw py::value_error("bdepthwise: act must be none, relu or relu6");
    const std::vector<inc_t> sx = strides_of(x), so = strides_of(out);
    const std::vector<inc_t> sr = res ? strides_of(*res) : std::vector<inc_t>(4, 0);
    BDepthwiseArgs a{};
    a.n = x.shape(0), a.c = C, a.h = x.shape(ax[2]), a.w = x.shape(ax[3]);
    a.r = taps.shape(1), a.s = taps.shape(2), a.ho = out.shape(ax[2]), a.wo = out.shape(ax[3]);
    a.sh = stride.first, a.sw = stride.second, a.top = top_left.first, a.left = top_left.second;
    a.dh = dilation.first, a.dw = dilation.second;
    a.x = static_cast<const std::uint16_t*>(x.data());
    a.xn = sx[ax[0]], a.xc = sx[ax[1]], a.xh = sx[ax[2]], a.xw = sx[ax[3]];
    a.taps = static_cast<const std::uint16_t*>(taps.data());
    a.y = out.mutable_data(), a.y_bf16 = out_bf16;
    a.yn = so[ax[0]], a.yc = so[ax[1]], a.yh = so[ax[2]], a.yw = so[ax[3]];
    a.scale = sc ? static_cast<const float*>(sc->data()) : nullptr;
    a.shift = sh ? static_cast<const float*>(sh->data()) : nullptr;
    a.act = ac;
    a.res = res ? static_cast<const float*>(res->data()) : nullptr;
    a.rn = sr[ax[0]], a.rc = sr[ax[1]], a.rh = sr[ax[2]], a.rw = sr[ax[3]];
    const int nt = num_threads();
    {
        py::gil_scoped_release nogil;
        bf16_depthwise(a, nhwc, nt);
    }
    return out;
}

py::dict binfo() {
    const BCandidate c = bcandidate();
    py::dict d;
    d["ukernel"] = c.ukr->name;
    d["isa"] = isa_name(c.ukr->isa);
    d["mr"] = c.ukr->mr;
    d["nr"] = c.ukr->nr;
    d["kunit"] = c.ukr->kunit;
    d["amx"] = c.ukr->kunit == 32;
    d["mc"] = c.blk.mc;
    d["kc"] = c.blk.kc;
    d["nc"] = c.blk.nc;
    return d;
}

}  // namespace

void def_bgemm(py::module_& m) {
    m.def("bgemm", &bgemm_entry, py::arg("a"), py::arg("b"), py::arg("out"), py::arg("alpha") = 1.0,
          py::arg("beta") = 0.0, py::arg("scale") = py::none(), py::arg("shift") = py::none(), py::arg("act") = "none",
          py::arg("residual") = py::none(), py::arg("channel_axis") = 1,
          "bf16 matmul into out, fp32 accumulation (kernels/_api/bf16.py checks the arguments; see bgemm_entry.cpp)");
    m.def("bdepthwise", &bdepthwise_entry, py::arg("x"), py::arg("taps"), py::arg("out"), py::arg("stride"),
          py::arg("top_left"), py::arg("dilation"), py::arg("scale"), py::arg("shift"), py::arg("act"),
          py::arg("residual"), py::arg("nhwc"),
          "Direct bf16 depthwise convolution (groups == C == K), fp32 sums and epilogue, one rounding.");
    m.def("binfo", &binfo, "The bf16 micro-kernel and blocks the engine uses under the current ISA cap.");
    m.def(
        "bf16_amx", [](std::optional<bool> on) { return bf16_amx(on ? (*on ? 1 : 0) : -1); }, py::arg("on") = py::none(),
        "Whether bf16 products run on AMX tiles (where the CPU and OS allow; set it with on=True/False: off runs "
        "the AVX512-BF16 kernel); returns the state.");
    m.def(
        "amx_peak", [](const std::string& dtype, double seconds) {
            if (dtype != "bfloat16" && dtype != "int8") throw py::value_error("amx_peak: dtype must be 'bfloat16' or 'int8', got '" + dtype + "'");
            return amx_peak(dtype == "int8", seconds);
        },
        py::arg("dtype") = "bfloat16", py::arg("seconds") = 0.2,
        "Single-thread AMX tile peak (TDPBF16PS GFLOP/s or TDPBUSD GOP/s), or < 0 where the CPU or OS has no AMX.");
    m.def("bf16_peak", [](double seconds) { return best_bf16_peak(seconds); }, py::arg("seconds") = 0.2,
          "Single-thread bf16 dot-product peak in GFLOP/s (vdpbf16ps), or < 0 without a probe.");
}

}  // namespace kernels
