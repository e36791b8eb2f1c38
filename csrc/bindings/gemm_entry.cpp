// Python entry points `gemm` and `matmul` of hpc_kernels._cpu: validate, release the GIL, run.
#include "gemm_entry.hpp"

#include <stdexcept>
#include <string>
#include <vector>

#include "../core/engine.hpp"
#include "../gemm/gemm.hpp"
#include "../core/threads.hpp"
#include "array_checks.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace kernels {

namespace {

using py_checks::Dtype;

// 2-D view as (pointer, element strides), optionally transposed (a free stride swap).
template <typename T>
struct View2 {
    T* p;
    dim_t rows, cols;
    inc_t rs, cs;
};

template <typename T>
View2<T> view2(const py::array& x, bool trans, const char* fn, const char* arg) {
    inc_t st[2];
    py_checks::element_strides(x, st, fn, arg);
    View2<T> v{static_cast<T*>(const_cast<void*>(x.data())), x.shape(0), x.shape(1), st[0], st[1]};
    if (trans) std::swap(v.rows, v.cols), std::swap(v.rs, v.cs);
    return v;
}

// c_src: when given, C is read from it and the result written to c (already checked: same
// dtype and shape, no overlap); it is copied into c first, only when beta != 0.
template <typename T>
void gemm_typed(const py::array& a, const py::array& b, const py::array& c, const py::array* c_src,
                double alpha, double beta, bool ta, bool tb, const char* fn, const char* cname) {
    const View2<T> A = view2<T>(a, ta, fn, "a"), B = view2<T>(b, tb, fn, "b");
    const View2<T> C = view2<T>(c, false, fn, cname);
    View2<T> S{};
    if (c_src && beta != 0.0) S = view2<T>(*c_src, false, fn, "c");
    const GemmArgs<T> g{A.rows, B.cols, A.cols, static_cast<T>(alpha), A.p, A.rs, A.cs,
                        B.p, B.rs, B.cs, static_cast<T>(beta), C.p, C.rs, C.cs};
    const int nt = num_threads();  // read on the calling thread: its ICV is the one that counts
    py::gil_scoped_release nogil;
    if (c_src && beta != 0.0)
        for (dim_t i = 0; i < C.rows; ++i)
            for (dim_t j = 0; j < C.cols; ++j) C.p[i * C.rs + j * C.cs] = S.p[i * S.rs + j * S.cs];
    gemm<T>(g, engine<T>(), nt);
}

void require_rank(const py::array& x, py::ssize_t lo, py::ssize_t hi, const char* fn, const char* arg) {
    if (x.ndim() < lo || x.ndim() > hi)
        throw py::value_error(std::string(fn) + ": " + arg + " must be " +
                              (lo == hi ? std::to_string(lo) + "-D"
                                        : "at least " + std::to_string(lo) + "-D") +
                              ", got shape " + py_checks::shape_str(x));
}

void check_output(const py::array& out, Dtype dt, Dtype dout, const std::vector<py::ssize_t>& shape,
                  const py::array& a, const py::array& b, const char* fn, const char* name) {
    if (dout != dt)
        throw py::type_error(std::string(fn) + ": " + name + " has dtype " + py_checks::dtype_name(dout) +
                             " but the result is " + py_checks::dtype_name(dt) +
                             "; outputs are never cast");
    bool same = out.ndim() == static_cast<py::ssize_t>(shape.size());
    for (std::size_t d = 0; same && d < shape.size(); ++d) same = out.shape(d) == shape[d];
    if (!same) {
        std::string want = "(";
        for (std::size_t d = 0; d < shape.size(); ++d)
            want += std::to_string(shape[d]) + (d + 1 < shape.size() ? ", " : "");
        throw py::value_error(std::string(fn) + ": " + name + " has shape " + py_checks::shape_str(out) +
                              ", expected " + want + (shape.size() == 1 ? ",)" : ")"));
    }
    py_checks::require_writable_output(out, fn, name);
    py_checks::require_no_overlap(out, a, fn, name, "a");
    py_checks::require_no_overlap(out, b, fn, name, "b");
}

}  // namespace

namespace {

// Inputs may be any array-like (converted as NumPy would, never to another float dtype: the dtype
// check follows); outputs must already be arrays. A failed conversion raises its own exception
// (e.g. the RuntimeError of an __array__ method): py::array::ensure would return a null array and
// clear it.
py::array as_input(const py::object& x) {
    if (py::isinstance<py::array>(x)) return py::reinterpret_borrow<py::array>(x);
    return py::array(x);  // throws error_already_set, the original exception, on failure
}

// alpha/beta: Python floats and ints (not bool) without any Python call, the common case; anything
// else goes through hpc_kernels._validation.real_scalar, the Python backends' check, so that every
// backend accepts and rejects the same scalars with the same message.
double real_arg(const py::object& x, const char* name) {
    PyObject* p = x.ptr();
    if (PyFloat_CheckExact(p)) return PyFloat_AS_DOUBLE(p);
    if (PyLong_CheckExact(p)) {
        const double v = PyLong_AsDouble(p);
        if (v == -1.0 && PyErr_Occurred()) {  // OverflowError: beyond the float range
            PyErr_Clear();
            throw std::overflow_error(std::string("gemm: ") + name + " is too large to convert to a float");
        }
        return v;
    }
    return py::module_::import("hpc_kernels._validation").attr("real_scalar")("gemm", name, x).cast<double>();
}

// An output argument: None, or a NumPy array used as it is (never converted).
std::optional<py::array> as_output(const py::object& x, const char* fn, const char* name) {
    if (x.is_none()) return std::nullopt;
    if (!py::isinstance<py::array>(x))
        throw py::type_error(std::string(fn) + ": " + name + " must be a numpy.ndarray, got " +
                             py::str(py::type::handle_of(x).attr("__name__")).cast<std::string>());
    return py::reinterpret_borrow<py::array>(x);
}

// Shared by gemm and 2-D matmul: validate everything, then run with the GIL released.
// `target` is written (allocated when absent); `c_src`, when given, is where C is read from.
py::array gemm_checked(const py::array& a, const py::array& b, std::optional<py::array> target,
                       const py::array* c_src, double alpha, double beta, bool trans_a, bool trans_b,
                       const char* fn, const char* tname) {
    const Dtype da = py_checks::dtype_of(a, fn, "a"), db = py_checks::dtype_of(b, fn, "b");
    py_checks::require_same_dtype(da, db, fn, "a", "b");
    require_rank(a, 2, 2, fn, "a");
    require_rank(b, 2, 2, fn, "b");
    const py::ssize_t m = trans_a ? a.shape(1) : a.shape(0), k = trans_a ? a.shape(0) : a.shape(1);
    const py::ssize_t kb = trans_b ? b.shape(1) : b.shape(0), n = trans_b ? b.shape(0) : b.shape(1);
    if (k != kb && std::string(fn) == "matmul")
        throw py::value_error("matmul: shapes " + py_checks::shape_str(a) + " and " + py_checks::shape_str(b) +
                              " do not agree: a has " + std::to_string(k) + " columns, b has " +
                              std::to_string(kb) + " rows");
    if (k != kb)
        throw py::value_error(std::string(fn) + ": shapes " + py_checks::shape_str(a) + " and " +
                              py_checks::shape_str(b) + " do not agree: op(a) is " + std::to_string(m) +
                              "x" + std::to_string(k) + ", op(b) is " + std::to_string(kb) + "x" +
                              std::to_string(n) + " (trans_a=" + (trans_a ? "True" : "False") +
                              ", trans_b=" + (trans_b ? "True" : "False") + ")");
    if (target) {
        check_output(*target, da, py_checks::dtype_of(*target, fn, tname), {m, n}, a, b, fn, tname);
    } else {
        if (beta != 0.0) throw py::value_error(std::string(fn) + ": beta != 0 needs an input c");
        // (py::array's default constructor would allocate a throw-away array: construct directly.)
        target = da == Dtype::f32 ? py::array(py::array_t<float>({m, n})) : py::array(py::array_t<double>({m, n}));
    }
    if (c_src) {
        if (py_checks::dtype_of(*c_src, fn, "c") != da)
            throw py::type_error(std::string(fn) + ": c has dtype " + py_checks::dtype_name(py_checks::dtype_of(*c_src, fn, "c")) +
                                 " but the result is " + py_checks::dtype_name(da) + "; outputs are never cast");
        if (c_src->ndim() != 2 || c_src->shape(0) != m || c_src->shape(1) != n)
            throw py::value_error(std::string(fn) + ": c has shape " + py_checks::shape_str(*c_src) + ", expected (" +
                                  std::to_string(m) + ", " + std::to_string(n) + ")");
        py_checks::require_no_overlap(*target, *c_src, fn, tname, "c");
    }
    // Every check passed on the caller's arrays: misaligned inputs are read from aligned copies.
    const py::array a2 = py_checks::aligned_input(a), b2 = py_checks::aligned_input(b);
    std::optional<py::array> s2;
    if (c_src && beta != 0.0) s2 = py_checks::aligned_input(*c_src);
    const py::array* src = c_src ? (s2 ? &*s2 : c_src) : nullptr;
    if (da == Dtype::f32) gemm_typed<float>(a2, b2, *target, src, alpha, beta, trans_a, trans_b, fn, tname);
    else gemm_typed<double>(a2, b2, *target, src, alpha, beta, trans_a, trans_b, fn, tname);
    return *target;
}

}  // namespace

py::array gemm_entry(const py::object& a, const py::object& b, const py::object& c_obj, const py::object& alpha_obj,
                     const py::object& beta_obj, bool trans_a, bool trans_b, const py::object& out_obj) {
    const py::array A = as_input(a), B = as_input(b);
    const double alpha = real_arg(alpha_obj, "alpha"), beta = real_arg(beta_obj, "beta");
    std::optional<py::array> c = as_output(c_obj, "gemm", "c"), out = as_output(out_obj, "gemm", "out");
    if (!out || (c && out->is(*c)))  // result in place into c (or a new array)
        return gemm_checked(A, B, std::move(c), nullptr, alpha, beta, trans_a, trans_b, "gemm", "c");
    if (!c && beta != 0.0) throw py::value_error("gemm: beta != 0 needs an input c");
    // out distinct from c: C is read from c (only if beta != 0) and the result goes to out.
    return gemm_checked(A, B, std::move(out), c ? &*c : nullptr, alpha, beta, trans_a, trans_b, "gemm", "out");
}

namespace {

// One batched call: batch dims broadcast NumPy-style (size-1 or missing dims reuse one matrix).
template <typename T>
void matmul_typed(const py::array& a, const py::array& b, const py::array& out,
                  const std::vector<py::ssize_t>& batch) {
    const py::ssize_t nb = static_cast<py::ssize_t>(batch.size());
    std::vector<inc_t> sa(a.ndim()), sb(b.ndim()), so(out.ndim());
    py_checks::element_strides(a, sa.data(), "matmul", "a");
    py_checks::element_strides(b, sb.data(), "matmul", "b");
    py_checks::element_strides(out, so.data(), "matmul", "out");
    // Batch strides aligned to the broadcast shape; 0 where an operand is broadcast.
    std::vector<inc_t> ba(nb, 0), bb(nb, 0), bo(nb, 0);
    for (py::ssize_t d = 0; d < nb; ++d) {
        const py::ssize_t da = d - (nb - (a.ndim() - 2)), db = d - (nb - (b.ndim() - 2));
        if (da >= 0 && a.shape(da) != 1) ba[d] = sa[da];
        if (db >= 0 && b.shape(db) != 1) bb[d] = sb[db];
        bo[d] = so[d];
    }
    const py::ssize_t m = a.shape(a.ndim() - 2), k = a.shape(a.ndim() - 1), n = b.shape(b.ndim() - 1);
    const inc_t rs_a = sa[a.ndim() - 2], cs_a = sa[a.ndim() - 1];
    const inc_t rs_b = sb[b.ndim() - 2], cs_b = sb[b.ndim() - 1];
    const inc_t rs_o = so[out.ndim() - 2], cs_o = so[out.ndim() - 1];
    dim_t count = 1;
    for (auto s : batch) count *= s;
    const T* pa = static_cast<const T*>(a.data());
    const T* pb = static_cast<const T*>(b.data());
    T* po = static_cast<T*>(const_cast<void*>(out.data()));
    const int nt = num_threads();
    const Engine<T>& e = engine<T>();

    py::gil_scoped_release nogil;
    auto one = [&](dim_t idx, int threads) {
        inc_t oa = 0, ob = 0, oo = 0;
        for (py::ssize_t d = nb - 1; d >= 0; --d) {
            const dim_t i = idx % batch[d];
            idx /= batch[d];
            oa += i * ba[d], ob += i * bb[d], oo += i * bo[d];
        }
        const GemmArgs<T> g{m, n, k, T(1), pa + oa, rs_a, cs_a, pb + ob, rs_b, cs_b, T(0), po + oo, rs_o, cs_o};
        gemm<T>(g, e, threads);
    };
    // Small matrices: one serial GEMM per thread over the batch beats threading each GEMM.
    const int per = useful_threads<T>(m, n, k, e, nt);
#ifdef _OPENMP
    if (count > 1 && per < nt) {
        const int team = static_cast<int>(std::min<dim_t>(nt, count));
#pragma omp parallel for num_threads(team) schedule(static)
        for (dim_t i = 0; i < count; ++i) one(i, 1);
        return;
    }
#endif
    for (dim_t i = 0; i < count; ++i) one(i, per);
}

}  // namespace

py::array matmul_entry(const py::array& a, const py::array& b, const py::object& out_obj) {
    std::optional<py::array> out_opt = as_output(out_obj, "matmul", "out");
    // Plain 2-D products (the common case) skip the batch bookkeeping and its allocations.
    if (a.ndim() == 2 && b.ndim() == 2)
        return gemm_checked(a, b, std::move(out_opt), nullptr, 1.0, 0.0, false, false, "matmul", "out");
    const Dtype da = py_checks::dtype_of(a, "matmul", "a"), db = py_checks::dtype_of(b, "matmul", "b");
    py_checks::require_same_dtype(da, db, "matmul", "a", "b");
    require_rank(a, 2, 64, "matmul", "a");
    require_rank(b, 2, 64, "matmul", "b");
    const py::ssize_t k = a.shape(a.ndim() - 1), kb = b.shape(b.ndim() - 2);
    if (k != kb)
        throw py::value_error("matmul: shapes " + py_checks::shape_str(a) + " and " + py_checks::shape_str(b) +
                              " do not agree: a has " + std::to_string(k) + " columns, b has " +
                              std::to_string(kb) + " rows");
    const py::ssize_t nba = a.ndim() - 2, nbb = b.ndim() - 2, nb = std::max(nba, nbb);
    std::vector<py::ssize_t> shape(nb);
    for (py::ssize_t d = 0; d < nb; ++d) {
        const py::ssize_t ia = d - (nb - nba), ib = d - (nb - nbb);
        const py::ssize_t sa = ia >= 0 ? a.shape(ia) : 1, sb = ib >= 0 ? b.shape(ib) : 1;
        if (sa != sb && sa != 1 && sb != 1)
            throw py::value_error("matmul: batch dimensions of shapes " + py_checks::shape_str(a) + " and " +
                                  py_checks::shape_str(b) + " cannot be broadcast together");
        shape[d] = sa == 1 ? sb : sa;
    }
    std::vector<py::ssize_t> batch = shape;
    shape.push_back(a.shape(a.ndim() - 2));
    shape.push_back(b.shape(b.ndim() - 1));
    if (out_opt) {
        check_output(*out_opt, da, py_checks::dtype_of(*out_opt, "matmul", "out"), shape, a, b, "matmul", "out");
    } else {
        out_opt = da == Dtype::f32 ? py::array(py::array_t<float>(shape)) : py::array(py::array_t<double>(shape));
    }
    const py::array& out = *out_opt;
    if (out.size() == 0) return out;
    const py::array a2 = py_checks::aligned_input(a), b2 = py_checks::aligned_input(b);  // inputs: copies allowed
    if (da == Dtype::f32) matmul_typed<float>(a2, b2, out, batch);
    else matmul_typed<double>(a2, b2, out, batch);
    return out;
}

}  // namespace kernels
