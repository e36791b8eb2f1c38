// Test hooks: list every built micro-kernel and run one directly on packed panels.
#include "ukernel_entry.hpp"

#include <string>
#include <vector>

#include "../core/cpu_info.hpp"
#include "../arch/table.hpp"
#include "array_checks.hpp"

namespace kernels {

namespace {

// A runnable micro-kernel entry point: every kernel, "<name>_half" for its half-height edge
// variant (MR/2 rows, reading panels packed for the full MR) and "<name>_narrow" for its narrow
// one (narrow_nr columns, reading panels packed for the full NR).
template <typename T>
struct Variant {
    std::string name;
    const Ukernel<T>* u;
    dim_t mr, nr;
    ukr_fn<T> fn;
};

template <typename T>
std::vector<Variant<T>> variants() {
    std::vector<Variant<T>> out;
    for (const Ukernel<T>* u : built_ukernels<T>()) {
        out.push_back({u->name, u, u->mr, u->nr, u->kernel});
        if (u->kernel_half) out.push_back({std::string(u->name) + "_half", u, u->mr / 2, u->nr, u->kernel_half});
        if (u->kernel_narrow) out.push_back({std::string(u->name) + "_narrow", u, u->mr, u->narrow_nr, u->kernel_narrow});
    }
    return out;
}

template <typename T>
void run_typed(const Variant<T>& v, py::ssize_t k, double alpha, const py::array& a, const py::array& b,
               double beta, const py::array& c, py::ssize_t m, py::ssize_t n) {
    const Ukernel<T>& u = *v.u;
    if (!cpu_supports(u.isa))
        throw py::value_error(v.name + " cannot run on this CPU");
    if (m < 0 || n < 0 || m > v.mr || n > v.nr || k < 0)
        throw py::value_error("run_ukernel: need 0 <= m <= MR, 0 <= n <= NR, k >= 0");
    // (k compared by division: k * MR of a huge k would wrap and pass, then overrun the copies.)
    if (a.ndim() != 1 || k > a.size() / v.mr || b.ndim() != 1 || k > b.size() / v.nr ||
        !(a.flags() & py::array::c_style) || !(b.flags() & py::array::c_style))
        throw py::value_error("run_ukernel: a and b must be contiguous 1-D packed panels of k*MR and k*NR");
    if (c.ndim() != 2 || c.shape(0) < m || c.shape(1) < n)
        throw py::value_error("run_ukernel: c must be 2-D with at least m rows and n columns");
    py_checks::require_writable_output(c, "run_ukernel", "c");
    inc_t st[2];
    py_checks::element_strides(c, st, "run_ukernel", "c");
    // Packed panels must be 64-byte aligned (the kernels use aligned loads): copy into our own.
    std::vector<T, std::allocator<T>> pa(static_cast<std::size_t>(k * u.mr) + 64 / sizeof(T));
    std::vector<T> pb(static_cast<std::size_t>(k * u.nr) + 64 / sizeof(T));
    auto aligned = [](std::vector<T>& v) {
        auto p = reinterpret_cast<std::uintptr_t>(v.data());
        return reinterpret_cast<T*>((p + kAlign - 1) / kAlign * kAlign);
    };
    T* ap = aligned(pa);
    T* bp = aligned(pb);
    const py::array a2 = py_checks::aligned_input(a), b2 = py_checks::aligned_input(b);  // misaligned: a copy
    const T* as = static_cast<const T*>(a2.data());
    for (py::ssize_t p = 0; p < k; ++p) std::copy_n(as + p * v.mr, v.mr, ap + p * u.mr);  // full-MR stride
    const T* bs = static_cast<const T*>(b2.data());
    for (py::ssize_t p = 0; p < k; ++p) std::copy_n(bs + p * v.nr, v.nr, bp + p * u.nr);  // full-NR stride
    v.fn(k, static_cast<T>(alpha), ap, bp, static_cast<T>(beta),
             static_cast<T*>(const_cast<void*>(c.data())), st[0], st[1], m, n, nullptr);
}

template <typename T>
void list_into(py::list& out, const char* dtype) {
    for (const Variant<T>& v : variants<T>()) {
        py::dict d;
        d["name"] = v.name;
        d["isa"] = isa_name(v.u->isa);
        d["dtype"] = dtype;
        d["mr"] = v.mr;
        d["nr"] = v.nr;
        d["runnable"] = cpu_supports(v.u->isa);
        out.append(d);
    }
}

template <typename T>
bool run_named(const std::string& name, py::ssize_t k, double alpha, const py::array& a,
               const py::array& b, double beta, const py::array& c, py::ssize_t m, py::ssize_t n) {
    for (const Variant<T>& v : variants<T>())
        if (v.name == name) {
            run_typed<T>(v, k, alpha, a, b, beta, c, m, n);
            return true;
        }
    return false;
}

}  // namespace

py::list list_ukernels() {
    py::list out;
    list_into<float>(out, "float32");
    list_into<double>(out, "float64");
    return out;
}

void run_ukernel(const std::string& name, py::ssize_t k, double alpha, const py::array& a,
                 const py::array& b, double beta, const py::array& c, py::ssize_t m, py::ssize_t n) {
    const auto dt = py_checks::dtype_of(c, "run_ukernel", "c");
    if (py_checks::dtype_of(a, "run_ukernel", "a") != dt || py_checks::dtype_of(b, "run_ukernel", "b") != dt)
        throw py::type_error("run_ukernel: a, b and c must share one dtype");
    if (dt == py_checks::Dtype::f32 ? run_named<float>(name, k, alpha, a, b, beta, c, m, n)
                                    : run_named<double>(name, k, alpha, a, b, beta, c, m, n))
        return;
    throw py::value_error("run_ukernel: no " + std::string(py_checks::dtype_name(dt)) +
                          " micro-kernel named '" + name + "' in this build");
}

}  // namespace kernels
