// Python entry points of the int8 engine in hpc_kernels._cpu: qgemm (batched, broadcast), qinfo
// (the int8 kernel and blocks in use) and int8_peak. The Python front end (kernels/_api/
// quantized.py) has checked every argument; the checks here keep a direct call from reading or
// writing outside its arrays (ranks, shapes, dtypes, writability), then the GIL is released.
#include "qgemm_entry.hpp"

#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "../arch/table.hpp"
#include "../core/threads.hpp"
#include "../gemm/qgemm.hpp"
#include "array_checks.hpp"
#include "qentry_common.hpp"

namespace kernels {

namespace {

// a (B..., M, K), b (B..., K, N), out and residual (B..., M, N): one batch shape (the front end
// broadcast them: views, zero-copy). b_zp, bias, mult: (N,) contiguous.
py::array qgemm_entry(const py::array& a, const py::array& b, const py::array& out, int a_zp, const py::array& b_zp,
                      const py::object& bias, const std::string& mode, const py::object& mult, float inv_out_scale,
                      float hi, const std::string& act, int out_zp, const py::object& residual) {
    const char* fn = "qgemm";
    const py::ssize_t nd = out.ndim();
    if (nd < 2 || a.ndim() != nd || b.ndim() != nd) throw py::value_error("qgemm: a, b and out need the same rank >= 2");
    const py::ssize_t M = out.shape(nd - 2), N = out.shape(nd - 1), K = a.shape(nd - 1);
    if (a.shape(nd - 2) != M || b.shape(nd - 2) != K || b.shape(nd - 1) != N)
        throw py::value_error("qgemm: shapes of a, b and out do not agree");
    for (py::ssize_t d = 0; d < nd - 2; ++d)
        if (a.shape(d) != out.shape(d) || b.shape(d) != out.shape(d))
            throw py::value_error("qgemm: a, b and out must have the same batch shape");
    const QOperand A = q_operand(a, fn, "a"), B = q_operand(b, fn, "b");
    QOut O = q_output(out, mode, fn);
    py_checks::require_no_overlap(out, a, fn, "out", "a");
    py_checks::require_no_overlap(out, b, fn, "out", "b");
    QVectors V = q_vectors(N, b_zp, bias, mult, fn);
    std::optional<py::array> res;
    std::vector<inc_t> rst;
    if (!residual.is_none()) {
        res = q_residual(residual, out, fn);
        rst = strides_of(*res);
    }
    const std::vector<inc_t> sa = strides_of(a), sb = strides_of(b), so = strides_of(out);
    dim_t count = 1;
    for (py::ssize_t d = 0; d < nd - 2; ++d) count *= out.shape(d);
    const int nt = num_threads();
    const QCandidate cand = qcandidate();
    QGemmArgs g;
    g.m = N, g.n = M, g.k = K;
    g.a_unsigned = B.is_unsigned, g.b_signed = A.is_signed;
    g.rs_a = sb[nd - 1], g.cs_a = sb[nd - 2];  // W(i, p) = b[p, i]
    g.rs_b = sa[nd - 1], g.cs_b = sa[nd - 2];  // X(p, j) = a[j, p]
    g.rs_c = so[nd - 1], g.cs_c = so[nd - 2];  // C(i, j) = out[j, i]
    if (res) g.rs_r = rst[nd - 1], g.cs_r = rst[nd - 2];
    g.x_zp = a_zp, g.w_zp = V.zp, g.bias = V.bias, g.mult = V.mult;
    g.mode = O.mode, g.inv_out_scale = inv_out_scale, g.hi = hi, g.act = q_act(act, fn), g.out_zp = out_zp;
    const float* rbase = res ? static_cast<const float*>(res->data()) : nullptr;
    {
        py::gil_scoped_release nogil;
        std::vector<std::int32_t> colsum(static_cast<std::size_t>(N));
        const std::int8_t* last_b = nullptr;
        for (dim_t idx = 0; idx < count; ++idx) {
            inc_t oa = 0, ob = 0, oo = 0, orr = 0;
            dim_t rem = idx;
            for (py::ssize_t d = nd - 3; d >= 0; --d) {
                const dim_t i = rem % out.shape(d);
                rem /= out.shape(d);
                oa += i * sa[d], ob += i * sb[d], oo += i * so[d];
                if (res) orr += i * rst[d];
            }
            g.b = reinterpret_cast<const std::uint8_t*>(A.p + oa);
            g.a = B.p + ob;
            g.c = O.p + oo * O.es;
            g.res = rbase ? rbase + orr : nullptr;
            if (g.a != last_b) {  // the weights' column sums: once per distinct b (broadcast batches share one)
                qweight_sums(g.m, g.k, g.a, g.rs_a, g.cs_a, g.a_unsigned, colsum.data());
                last_b = g.a;
            }
            g.colsum = colsum.data();
            qgemm(g, cand, nt);
        }
    }
    return out;
}

py::dict qinfo() {
    const QCandidate c = qcandidate();
    py::dict d;
    d["ukernel"] = c.ukr->name;
    d["isa"] = isa_name(c.ukr->isa);
    d["mr"] = c.ukr->mr;
    d["nr"] = c.ukr->nr;
    d["mc"] = c.blk.mc;
    d["kc"] = c.blk.kc;
    d["nc"] = c.blk.nc;
    d["unpacked_b"] = c.ukr->kernel_rows != nullptr && int8_unpacked_b();
    d["amx"] = c.ukr->kernel_rows != nullptr && int8_unpacked_b() && int8_amx();
    return d;
}

}  // namespace

void def_qgemm(py::module_& m) {
    m.def("qgemm", &qgemm_entry, py::arg("a"), py::arg("b"), py::arg("out"), py::arg("a_zp"), py::arg("b_zp"),
          py::arg("bias"), py::arg("mode"), py::arg("mult"), py::arg("inv_out_scale"), py::arg("hi"), py::arg("act"),
          py::arg("out_zp"), py::arg("residual"),
          "int8 matmul into out (kernels/_api/quantized.py checks the arguments; see qgemm_entry.cpp)");
    m.def("qinfo", &qinfo, "The int8 micro-kernel and blocks the engine uses under the current ISA cap.");
    m.def(
        "int8_unpacked_b",
        [](std::optional<bool> on) {
            if (on) set_int8_unpacked_b(*on);
            return int8_unpacked_b();
        },
        py::arg("on") = py::none(),
        "Whether int8 products read u8 activation rows unpacked (set it with on=True/False); returns the state.");
    m.def(
        "int8_amx", [](std::optional<bool> on) { return int8_amx(on ? (*on ? 1 : 0) : -1); }, py::arg("on") = py::none(),
        "Whether the VNNI kernel's unpacked-row products run on AMX tiles (where the CPU and OS allow; set it with "
        "on=True/False); returns the state.");
    m.def("int8_peak", [](double seconds) { return best_int8_peak(seconds); }, py::arg("seconds") = 0.2,
          "Single-thread int8 multiply-add peak in GOP/s (vpdpbusd), or < 0 without a probe.");
}

}  // namespace kernels
