// Python entry points `gemm` and `matmul` of kernels._cpu: validate, release the GIL, run.
#include "gemm_entry.hpp"

#include <string>
#include <vector>

#include "../engine.hpp"
#include "../gemm.hpp"
#include "../threads.hpp"
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

template <typename T>
void gemm_typed(const py::array& a, const py::array& b, const py::array& c, double alpha, double beta,
                bool ta, bool tb) {
    const View2<T> A = view2<T>(a, ta, "gemm", "a"), B = view2<T>(b, tb, "gemm", "b");
    const View2<T> C = view2<T>(c, false, "gemm", "c");
    const GemmArgs<T> g{A.rows, B.cols, A.cols, static_cast<T>(alpha), A.p, A.rs, A.cs,
                        B.p, B.rs, B.cs, static_cast<T>(beta), C.p, C.rs, C.cs};
    const int nt = num_threads();  // read on the calling thread: its ICV is the one that counts
    py::gil_scoped_release nogil;
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

py::array gemm_entry(const py::array& a, const py::array& b, std::optional<py::array> c,
                     double alpha, double beta, bool trans_a, bool trans_b) {
    const Dtype da = py_checks::dtype_of(a, "gemm", "a"), db = py_checks::dtype_of(b, "gemm", "b");
    py_checks::require_same_dtype(a, da, b, db, "gemm", "a", "b");
    require_rank(a, 2, 2, "gemm", "a");
    require_rank(b, 2, 2, "gemm", "b");
    const py::ssize_t m = trans_a ? a.shape(1) : a.shape(0), k = trans_a ? a.shape(0) : a.shape(1);
    const py::ssize_t kb = trans_b ? b.shape(1) : b.shape(0), n = trans_b ? b.shape(0) : b.shape(1);
    if (k != kb)
        throw py::value_error("gemm: shapes " + py_checks::shape_str(a) + " and " + py_checks::shape_str(b) +
                              " do not agree: op(a) is " + std::to_string(m) + "x" + std::to_string(k) +
                              ", op(b) is " + std::to_string(kb) + "x" + std::to_string(n) +
                              " (trans_a=" + (trans_a ? "True" : "False") +
                              ", trans_b=" + (trans_b ? "True" : "False") + ")");
    if (c) {
        check_output(*c, da, py_checks::dtype_of(*c, "gemm", "c"), {m, n}, a, b, "gemm", "c");
    } else {
        if (beta != 0.0) throw py::value_error("gemm: beta != 0 needs an input c");
        // (py::array's default constructor would allocate a throw-away array: construct directly.)
        c = da == Dtype::f32 ? py::array(py::array_t<float>({m, n})) : py::array(py::array_t<double>({m, n}));
    }
    const py::array& out = *c;
    if (da == Dtype::f32) gemm_typed<float>(a, b, out, alpha, beta, trans_a, trans_b);
    else gemm_typed<double>(a, b, out, alpha, beta, trans_a, trans_b);
    return out;
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

py::array matmul_entry(const py::array& a, const py::array& b, std::optional<py::array> out_opt) {
    const Dtype da = py_checks::dtype_of(a, "matmul", "a"), db = py_checks::dtype_of(b, "matmul", "b");
    py_checks::require_same_dtype(a, da, b, db, "matmul", "a", "b");
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
    if (da == Dtype::f32) matmul_typed<float>(a, b, out, batch);
    else matmul_typed<double>(a, b, out, batch);
    return out;
}

}  // namespace kernels
