// The ops a CNN runs around its convolutions as steps of a conv chain (chain_ops.hpp): the input's
// relayout, pooling and the classifier's GEMM, each through its standalone entry.
//
// Why in the chain: Python between two nodes finds its code and objects evicted by the
// convolutions before it. In MobileNetV2 the steps after the conv chain (the session's bookkeeping,
// the pool, the classifier's wrapper) cost 20-25 us each against 2-5 us warm, ~70 us of a 5 ms
// run; as chain steps they cost what their kernels cost.
#include "chain_ops.hpp"

#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "array_checks.hpp"
#include "gemm_entry.hpp"
#include "pool_entry.hpp"
#include "qops_entry.hpp"

namespace kernels {

namespace {

[[noreturn]] void fail(const std::string& msg) { throw py::value_error("conv2d_chain: " + msg); }

// A (N, C) out as the 4-D view the pool writes ((N, C, 1, 1) or (N, 1, 1, C)); 4-D outs as they are.
py::array pooled_view(const py::array& out, const std::string& layout) {
    if (out.ndim() != 2) return out;
    const py::ssize_t n = out.shape(0), c = out.shape(1), sn = out.strides(0), sc = out.strides(1);
    const bool nhwc = layout == "NHWC";
    std::vector<py::ssize_t> shape = nhwc ? std::vector<py::ssize_t>{n, 1, 1, c} : std::vector<py::ssize_t>{n, c, 1, 1};
    std::vector<py::ssize_t> strides = nhwc ? std::vector<py::ssize_t>{sn, sn, sn, sc} : std::vector<py::ssize_t>{sn, sc, sc, sc};
    return py::array(out.dtype(), shape, strides, out.data(), out);  // a view: writable as out is
}

// out (2-D, checked by the gemm entry) += bias on every row, then max(., 0) with relu.
template <typename T>
void bias_relu(const py::array& out, const py::object& bias_obj, bool relu) {
    inc_t st[2];
    py_checks::element_strides(out, st, "conv2d_chain", "out");
    const py::ssize_t m = out.shape(0), n = out.shape(1);
    const T* bias = nullptr;
    py::array b;
    if (!bias_obj.is_none()) {
        if (!py::isinstance<py::array>(bias_obj)) fail("a gemm step's bias must be a NumPy array");
        b = py::reinterpret_borrow<py::array>(bias_obj);
        if (b.ndim() != 1 || b.shape(0) != n || !b.dtype().is(out.dtype()) || !(b.flags() & py::array::c_style))
            fail("a gemm step's bias must be a C-contiguous (" + std::to_string(n) + ",) vector of out's dtype, got " +
                 std::string(py::str(b.dtype())) + " of shape " + py_checks::shape_str(b));
        py_checks::require_no_overlap(out, b, "conv2d_chain", "out", "a gemm step's bias");  // read while out is written
        bias = static_cast<const T*>(b.data());
    }
    T* y = static_cast<T*>(const_cast<void*>(out.data()));
    py::gil_scoped_release nogil;
    for (py::ssize_t i = 0; i < m; ++i)
        for (py::ssize_t j = 0; j < n; ++j) {
            T& v = y[i * st[0] + j * st[1]];
            if (bias) v += bias[j];
            if (relu && v < T(0)) v = T(0);  // NaN stays NaN, as np.maximum(out, 0)
        }
}

}  // namespace

bool is_op_step(const py::tuple& step) { return step.size() >= 3 && py::isinstance<py::str>(step[0]); }

void run_op_step(const py::tuple& t, const py::array& x, const py::array& out) {
    const std::string kind = t[0].cast<std::string>();
    auto need = [&](std::size_t n) {
        if (t.size() != n) fail("a " + kind + " step has " + std::to_string(n) + " items, got " + std::to_string(t.size()));
    };
    if (kind == "relayout") {
        need(4);
        relayout_entry(x, out, t[3].cast<std::string>());
    } else if (kind == "max_pool2d") {
        need(8);
        max_pool2d_entry(x, out, t[3].cast<PoolPair>(), t[4].cast<PoolPair>(), t[5].cast<PoolQuad>(),
                         t[6].cast<PoolPair>(), t[7].cast<std::string>());
    } else if (kind == "avg_pool2d") {
        need(8);
        avg_pool2d_entry(x, out, t[3].cast<PoolPair>(), t[4].cast<PoolPair>(), t[5].cast<PoolQuad>(), t[6].cast<bool>(),
                         t[7].cast<std::string>());
    } else if (kind == "global_avg_pool") {
        need(4);
        const std::string layout = t[3].cast<std::string>();
        global_avg_pool_entry(x, pooled_view(out, layout), layout);
    } else if (kind == "gemm") {
        need(8);
        gemm_entry(x, t[3], py::none(), t[5], py::float_(0.0), t[6].cast<bool>(), false, out);
        const bool relu = t[7].cast<bool>();
        if (t[4].is_none() && !relu) return;
        if (out.dtype().is(py::dtype::of<float>())) bias_relu<float>(out, t[4], relu);
        else bias_relu<double>(out, t[4], relu);  // gemm accepted out: float32 or float64
    } else if (kind == "quantize_linear") {
        need(5);
        quantize_linear_entry(x, out, t[3].cast<float>(), t[4].cast<int>());
    } else if (kind == "dequantize_linear") {
        need(5);
        dequantize_linear_entry(x, out, t[3].cast<float>(), t[4].cast<int>());
    } else if (kind == "qglobal_avg_pool") {
        need(7);
        qglobal_avg_pool_entry(x, out, t[3].cast<std::string>(), t[4].cast<int>(), t[5].cast<int>(), t[6].cast<float>());
    } else {
        fail("unknown step kind '" + kind + "' (relayout, max_pool2d, avg_pool2d, global_avg_pool, gemm, "
             "quantize_linear, dequantize_linear, qglobal_avg_pool; qconv and qgemm: qconv_entry.hpp)");
    }
}

}  // namespace kernels
