// Argument helpers shared by the int8 entries (qgemm_entry.cpp, qconv_entry.cpp): operand and
// output dtypes, the per-channel vectors, the residual, element strides, the activation name.
#pragma once

#include <pybind11/numpy.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "../arch/qukernel.hpp"
#include "array_checks.hpp"

namespace kernels {

namespace py = pybind11;

// An int8 or uint8 array's bytes and signedness.
struct QOperand {
    const std::int8_t* p;
    bool is_signed, is_unsigned;
};

inline QOperand q_operand(const py::array& x, const char* fn, const char* name) {
    const char kind = x.dtype().kind();
    if (x.itemsize() != 1 || (kind != 'i' && kind != 'u'))
        throw py::type_error(std::string(fn) + ": " + name + " must be uint8 or int8");
    return {static_cast<const std::int8_t*>(x.data()), kind == 'i', kind == 'u'};
}

struct QOut {
    char* p;
    QMode mode;
    dim_t es;
};

// out's dtype must be the output mode's ("int32": int32, "float": float32, "quant": uint8/int8).
inline QOut q_output(const py::array& out, const std::string& mode, const char* fn) {
    const char kind = out.dtype().kind();
    const auto sz = out.itemsize();
    QMode m;
    if (mode == "int32" && kind == 'i' && sz == 4) m = QMode::i32;
    else if (mode == "float" && kind == 'f' && sz == 4) m = QMode::f32;
    else if (mode == "quant" && kind == 'u' && sz == 1) m = QMode::u8;
    else if (mode == "quant" && kind == 'i' && sz == 1) m = QMode::s8;
    else throw py::type_error(std::string(fn) + ": out's dtype does not match the output mode '" + mode + "'");
    py_checks::require_writable_output(out, fn, "out");
    // As every entry: no element of out twice (a broadcast view would race and drop results).
    if (py_checks::self_overlapping(out, fn, "out")) throw py::value_error(std::string(fn) + ": out has overlapping elements");
    return {static_cast<char*>(const_cast<void*>(out.data())), m, static_cast<dim_t>(sz)};
}

// Element strides (byte strides / item size); ValueError when one is not a whole element.
inline std::vector<inc_t> strides_of(const py::array& x) {
    std::vector<inc_t> s(x.ndim());
    for (py::ssize_t d = 0; d < x.ndim(); ++d) {
        if (x.strides(d) % x.itemsize()) throw py::value_error("int8 entry: an array's strides are not whole elements");
        s[d] = x.strides(d) / x.itemsize();
    }
    return s;
}

// The per-channel vectors (n values each), kept alive with the call.
struct QVectors {
    py::array_t<std::int32_t, py::array::c_style> zp_a, bias_a;
    py::array_t<float, py::array::c_style> mult_a;
    const std::int32_t* zp = nullptr;
    const std::int32_t* bias = nullptr;
    const float* mult = nullptr;
};

inline QVectors q_vectors(py::ssize_t n, const py::array& zp, const py::object& bias, const py::object& mult,
                          const char* fn) {
    QVectors v;
    auto need = [&](py::ssize_t size, const char* what) {
        if (size != n) throw py::value_error(std::string(fn) + ": " + what + " must have one value per output channel");
    };
    v.zp_a = py::array_t<std::int32_t, py::array::c_style>::ensure(zp);
    if (!v.zp_a) throw py::type_error(std::string(fn) + ": the weight zero points must be int32");
    need(v.zp_a.size(), "the weight zero points");
    v.zp = v.zp_a.data();
    if (!bias.is_none()) {
        v.bias_a = py::array_t<std::int32_t, py::array::c_style>::ensure(bias);
        if (!v.bias_a) throw py::type_error(std::string(fn) + ": bias must be int32");
        need(v.bias_a.size(), "bias");
        v.bias = v.bias_a.data();
    }
    if (!mult.is_none()) {
        v.mult_a = py::array_t<float, py::array::c_style>::ensure(mult);
        if (!v.mult_a) throw py::type_error(std::string(fn) + ": the multipliers must be float32");
        need(v.mult_a.size(), "the multipliers");
        v.mult = v.mult_a.data();
    }
    return v;
}

// The residual: float32 of out's shape (any strides: a broadcast view reads in place).
inline py::array q_residual(const py::object& r, const py::array& out, const char* fn) {
    if (!py::isinstance<py::array>(r)) throw py::type_error(std::string(fn) + ": residual must be a numpy.ndarray");
    py::array a = py::reinterpret_borrow<py::array>(r);
    if (a.dtype().kind() != 'f' || a.itemsize() != 4) throw py::type_error(std::string(fn) + ": residual must be float32");
    bool same = a.ndim() == out.ndim();
    for (py::ssize_t d = 0; same && d < a.ndim(); ++d) same = a.shape(d) == out.shape(d);
    if (!same) throw py::value_error(std::string(fn) + ": residual must have the output's shape");
    return py_checks::element_aligned(a) ? a : py_checks::aligned_input(a);
}

inline Act q_act(const std::string& act, const char* fn) {
    if (act.empty()) return Act::none;
    if (act == "relu") return Act::relu;
    if (act == "relu6") return Act::relu6;
    throw py::value_error(std::string(fn) + ": activation must be '', 'relu' or 'relu6'");
}

}  // namespace kernels
