// Argument validation shared by the gemm and matmul entry points.
#include "array_checks.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <utility>
#include <vector>

namespace kernels::py_checks {

namespace {
constexpr int kNpyFloat = 11, kNpyDouble = 12;  // NumPy type numbers of float32 / float64

bool native_order(const py::dtype& d) {
    const char bo = d.byteorder();
    const std::uint16_t one = 1;
    const bool little = *reinterpret_cast<const unsigned char*>(&one) == 1;
    return bo == '=' || bo == '|' || bo == (little ? '<' : '>');
}

// [lo, hi) byte range spanned by the elements of x (empty arrays span nothing).
std::pair<std::intptr_t, std::intptr_t> extent(const py::array& x) {
    std::intptr_t lo = reinterpret_cast<std::intptr_t>(x.data()), hi = lo;
    if (x.size() == 0) return {lo, lo};
    for (py::ssize_t d = 0; d < x.ndim(); ++d) {
        const std::intptr_t span = static_cast<std::intptr_t>(x.strides(d)) * (x.shape(d) - 1);
        (span < 0 ? lo : hi) += span;
    }
    return {lo, hi + static_cast<std::intptr_t>(x.itemsize())};
}
}  // namespace

std::string shape_str(const py::array& x) {
    std::string s = "(";
    for (py::ssize_t d = 0; d < x.ndim(); ++d) {
        s += std::to_string(x.shape(d));
        if (d + 1 < x.ndim() || x.ndim() == 1) s += ",";
        if (d + 1 < x.ndim()) s += " ";
    }
    return s + ")";
}

const char* dtype_name(Dtype d) { return d == Dtype::f32 ? "float32" : "float64"; }

Dtype dtype_of(const py::array& x, const char* fn, const char* arg) {
    const py::dtype dt = x.dtype();
    const int num = dt.num();
    if ((num == kNpyFloat || num == kNpyDouble) && native_order(dt))
        return num == kNpyFloat ? Dtype::f32 : Dtype::f64;
    throw py::type_error(std::string(fn) + ": " + arg + " has dtype " +
                         py::str(static_cast<py::object>(dt)).cast<std::string>() +
                         "; allowed dtypes are float32 and float64 (native byte order)");
}

void require_same_dtype(Dtype da, Dtype db, const char* fn,
                        const char* an, const char* bn) {
    if (da != db)
        throw py::type_error(std::string(fn) + ": " + an + " and " + bn +
                             " must have the same dtype, got " + dtype_name(da) + " and " +
                             dtype_name(db) + " (allowed: float32, float64)");
}

void element_strides(const py::array& x, inc_t* out, const char* fn, const char* arg) {
    const auto item = static_cast<inc_t>(x.itemsize());
    if (reinterpret_cast<std::uintptr_t>(x.data()) % static_cast<std::uintptr_t>(item) != 0)
        throw py::value_error(std::string(fn) + ": " + arg +
                              " is not aligned to its element size; pass np.ascontiguousarray(" +
                              arg + ")");
    for (py::ssize_t d = 0; d < x.ndim(); ++d) {
        const auto s = static_cast<inc_t>(x.strides(d));
        if (s % item != 0)
            throw py::value_error(std::string(fn) + ": " + arg + " has a stride of " +
                                  std::to_string(s) + " bytes, not a multiple of its " +
                                  std::to_string(item) + "-byte elements");
        out[d] = s / item;
    }
}

void require_writable_output(const py::array& out, const char* fn, const char* arg) {
    if (!out.writeable())
        throw py::value_error(std::string(fn) + ": " + arg + " is read-only; pass a writable array");
    if (out.size() == 0) return;  // nothing to write (NumPy gives fresh empty arrays zero strides)
    // Sufficient non-overlap test: sorted by |stride|, each stride clears the span of the smaller.
    std::vector<std::pair<inc_t, inc_t>> dims;  // (|stride| in bytes, extent)
    for (py::ssize_t d = 0; d < out.ndim(); ++d)
        if (out.shape(d) > 1) dims.emplace_back(std::llabs(out.strides(d)), out.shape(d));
    std::sort(dims.begin(), dims.end());
    inc_t span = out.itemsize();
    for (const auto& [stride, n] : dims) {
        if (stride < span)
            throw py::value_error(std::string(fn) + ": " + arg +
                                  " has overlapping elements (a broadcast or as_strided view); "
                                  "pass an array where every element has its own memory");
        span = stride * n;
    }
}

void require_no_overlap(const py::array& out, const py::array& other, const char* fn,
                        const char* out_name, const char* other_name) {
    const auto [o0, o1] = extent(out);
    const auto [x0, x1] = extent(other);
    if (o0 < x1 && x0 < o1)
        throw py::value_error(std::string(fn) + ": " + out_name + " shares memory with " +
                              other_name + "; the output must not overlap an input");
}

}  // namespace kernels::py_checks
