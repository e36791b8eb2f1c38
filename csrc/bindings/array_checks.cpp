// Argument validation shared by the gemm and matmul entry points.
#include "array_checks.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <utility>
#include <vector>

#include "../core/checked.hpp"

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
    // (np.ascontiguousarray would not help: it returns a contiguous misaligned array unchanged.)
    static const char* advice = "; allocate the output with np.empty(...)/np.zeros(...) (NumPy aligns new arrays)";
    // As NumPy's `aligned` flag and the Python backends' check: an array of no elements has no
    // address to align, and a dimension of one element never applies its stride (a (1, 1) view of
    // odd strides is a valid output; its stride is passed as 0).
    const auto item = static_cast<inc_t>(x.itemsize());
    const bool empty = x.size() == 0;
    if (!empty && reinterpret_cast<std::uintptr_t>(x.data()) % static_cast<std::uintptr_t>(item) != 0)
        throw py::value_error(std::string(fn) + ": " + arg + " is not aligned to its " + std::to_string(item) +
                              "-byte elements" + advice);
    for (py::ssize_t d = 0; d < x.ndim(); ++d) {
        const auto s = static_cast<inc_t>(x.strides(d));
        if (s % item != 0 && (empty || x.shape(d) <= 1)) {
            out[d] = 0;
            continue;
        }
        if (s % item != 0)
            throw py::value_error(std::string(fn) + ": " + arg + " has a stride of " + std::to_string(s) +
                                  " bytes, not a multiple of its " + std::to_string(item) + "-byte elements" + advice);
        out[d] = s / item;
    }
}

bool element_aligned(const py::array& x) {
    const auto item = static_cast<py::ssize_t>(x.itemsize());
    if (x.size() == 0) return true;
    if (reinterpret_cast<std::uintptr_t>(x.data()) % static_cast<std::uintptr_t>(item) != 0) return false;
    for (py::ssize_t d = 0; d < x.ndim(); ++d)
        if (x.shape(d) > 1 && x.strides(d) % item != 0) return false;
    return true;
}

py::array aligned_input(const py::array& x, bool contiguous) {
    if (element_aligned(x) && (!contiguous || (x.flags() & py::array::c_style))) return x;
    constexpr int kNpyCorder = 0;
    auto copy = py::reinterpret_steal<py::array>(py::detail::npy_api::get().PyArray_NewCopy_(x.ptr(), kNpyCorder));
    if (!copy) throw py::error_already_set();
    return copy;
}

bool self_overlapping(const py::array& x, const char* fn, const char* arg) {
    if (x.size() == 0) return false;  // nothing to write (NumPy gives fresh empty arrays zero strides)
    // Cheap sufficient test: sorted by |stride|, each stride clears the bytes spanned by the
    // smaller dimensions (extent: from the first element's first byte to the last one's last).
    std::vector<std::pair<inc_t, inc_t>> dims;  // (|stride| in bytes, extent)
    for (py::ssize_t d = 0; d < x.ndim(); ++d)
        if (x.shape(d) > 1) dims.emplace_back(std::llabs(x.strides(d)), x.shape(d));
    std::sort(dims.begin(), dims.end());
    inc_t extent = x.itemsize();
    bool proven = true;
    for (const auto& [stride, n] : dims) {
        inc_t step;
        if (stride < extent || mul_overflows(stride, n - 1, &step) || add_overflows(extent, step, &extent)) {
            proven = false;
            break;
        }
    }
    if (proven) return false;
    // Inconclusive (interleaved or repeated elements): decide exactly from the byte offsets.
    constexpr py::ssize_t kMaxEnumerated = py::ssize_t{1} << 22;
    if (x.size() > kMaxEnumerated)
        throw py::value_error(std::string(fn) + ": " + arg + "'s layout (shape " + shape_str(x) +
                              ") could not be proven free of overlapping elements (interleaved strides, more "
                              "than 2^22 elements); pass an array where every element has its own memory");
    std::vector<inc_t> offsets{0};
    offsets.reserve(static_cast<std::size_t>(x.size()));
    for (const auto& [stride, n] : dims) {
        const std::size_t before = offsets.size();
        for (inc_t i = 1; i < n; ++i)
            for (std::size_t j = 0; j < before; ++j) offsets.push_back(offsets[j] + i * stride);
    }
    std::sort(offsets.begin(), offsets.end());
    return std::adjacent_find(offsets.begin(), offsets.end()) != offsets.end();
}

void require_writable_output(const py::array& out, const char* fn, const char* arg) {
    if (!out.writeable())
        throw py::value_error(std::string(fn) + ": " + arg + " is read-only; pass a writable array");
    if (self_overlapping(out, fn, arg))
        throw py::value_error(std::string(fn) + ": " + arg +
                              " has overlapping elements (a broadcast or as_strided view); "
                              "pass an array where every element has its own memory");
}

bool extents_overlap(const py::array& a, const py::array& b) {
    if (a.size() == 0 || b.size() == 0) return false;  // no elements, no memory (its address may lie inside the other's)
    const auto [a0, a1] = extent(a);
    const auto [b0, b1] = extent(b);
    return a0 < b1 && b0 < a1;
}

void require_no_overlap(const py::array& out, const py::array& other, const char* fn,
                        const char* out_name, const char* other_name) {
    if (extents_overlap(out, other))
        throw py::value_error(std::string(fn) + ": " + out_name + " shares memory with " +
                              other_name + "; the output must not overlap an input");
}

}  // namespace kernels::py_checks
