// The hpc_kernels._cpu extension module: gemm/matmul, configuration, threads, info, test hooks.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>

#include "../arch/table.hpp"
#include "../arch/uarch.hpp"
#include "../core/cpu_info.hpp"
#include "../core/engine.hpp"
#include "../core/schedule.hpp"
#include "../core/threads.hpp"
#include "conv_entry.hpp"
#include "gemm_entry.hpp"
#include "pool_entry.hpp"
#include "qops_entry.hpp"
#include "bf16_lower_entry.hpp"
#include "bgemm_entry.hpp"
#include "qgemm_entry.hpp"
#include "ukernel_entry.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace py = pybind11;
using namespace kernels;

namespace {

py::dict candidate_info(const char* name, const char* isa, dim_t mr, dim_t nr, double eff, const Blocking& b) {
    py::dict d;
    d["ukernel"] = name;
    d["isa"] = isa;
    d["mr"] = mr;
    d["nr"] = nr;
    d["efficiency"] = eff;
    d["mc"] = b.mc;
    d["kc"] = b.kc;
    d["nc"] = b.nc;
    return d;
}

// The first candidate's fields at the top level (what a single-kernel ISA has), all under "candidates".
template <typename T>
py::dict engine_info() {
    py::list all;
    for (const Candidate<T>& c : engine<T>().cands) {
        py::dict d = candidate_info(c.ukr->name, isa_name(c.ukr->isa), c.ukr->mr, c.ukr->nr, c.efficiency, c.blk);
        if (c.large_min_mn > 0)  // the blocks of products whose C has both sides >= min_mn
            d["large"] = py::dict(py::arg("min_mn") = c.large_min_mn, py::arg("mc") = c.large.mc, py::arg("kc") = c.large.kc,
                                  py::arg("nc") = c.large.nc);
        all.append(d);
    }
    py::dict d = all[0].cast<py::dict>();
    py::dict top;
    for (auto item : d) top[item.first] = item.second;
    top["candidates"] = all;
    const Origin& o = engine<T>().origin;
    top["source"] = py::dict(py::arg("ukernel") = o.ukernel, py::arg("mc") = o.mc, py::arg("kc") = o.kc,
                             py::arg("nc") = o.nc);
    return top;
}

py::dict info() {
    py::dict d;
    py::list built, supported;
    for (const IsaRow& row : isa_table()) {  // best first
        const Isa isa = row.isa;
        if (isa_built(isa)) built.append(isa_name(isa));
        if (cpu_supports(isa)) supported.append(isa_name(isa));
    }
    d["isas_built"] = built;
    d["isas_supported"] = supported;
    d["isa_cap"] = isa_name(isa_cap());
    const CpuId id = cpu_id();
    const UarchRow& u = host_uarch();
    d["cpuid"] = py::dict(py::arg("vendor") = std::string(id.vendor), py::arg("family") = id.family,
                          py::arg("model") = id.model);
    d["uarch"] = py::dict(py::arg("name") = u.name, py::arg("description") = u.description,
                          py::arg("detected") = detected_uarch().name, py::arg("provenance") = u.provenance,
                          py::arg("grid_stream_weight") = u.grid_stream_weight);
    const CacheSizes cs = cache_sizes();
    d["cache_bytes"] = py::dict(py::arg("l1d") = cs.l1d, py::arg("l2") = cs.l2, py::arg("l3") = cs.l3);
    d["float32"] = engine_info<float>();
    d["float64"] = engine_info<double>();
#ifdef _OPENMP
    d["openmp"] = _OPENMP;
#else
    d["openmp"] = py::none();
#endif
    d["compiler"] = __VERSION__;
    return d;
}

// A label for info()'s "source": short, printable (it is shown, never interpreted).
void check_source(const std::string& source) {
    if (source.empty() || source.size() > 32 || source == "derived")
        throw py::value_error("source must be a label of 1..32 characters other than 'derived', got '" + source + "'");
}

void configure_entry(const std::string& isa, py::ssize_t mc, py::ssize_t kc, py::ssize_t nc,
                     const std::string& ukernel, const std::string& source) {
    Isa cap;
    if (!parse_isa(isa.c_str(), &cap))
        throw py::value_error("unknown ISA '" + isa + "'; allowed: " + isa_names());
    check_source(source);
    try {
        configure(cap, mc, kc, nc, ukernel, source);
    } catch (const std::invalid_argument& e) {
        throw py::value_error(e.what());
    }
}

// Forces a microarchitecture row ("auto": the detected one) for the next configure().
void select_uarch_entry(const std::string& name) {
    try {
        select_uarch(name);
    } catch (const std::invalid_argument& e) {
        throw py::value_error(e.what());
    }
}

void configure_gemm_entry(const std::string& dtype, const std::string& ukernel, py::ssize_t mc, py::ssize_t kc,
                          py::ssize_t nc, const std::string& source) {
    if (dtype != "float32" && dtype != "float64")
        throw py::value_error("configure_gemm: dtype must be 'float32' or 'float64', got '" + dtype + "'");
    check_source(source);
    try {
        if (dtype == "float32") configure_dtype<float>(ukernel, mc, kc, nc, source);
        else configure_dtype<double>(ukernel, mc, kc, nc, source);
    } catch (const std::invalid_argument& e) {
        throw py::value_error("configure_gemm(" + dtype + "): " + e.what());
    }
}

// Single-thread FMA peak (GFLOP/s) with the best built ISA the CPU runs; None without a SIMD ISA.
py::object fma_peak_entry(const std::string& dtype, double seconds) {
    if (dtype != "float32" && dtype != "float64")
        throw py::type_error("fma_peak: dtype must be 'float32' or 'float64', got '" + dtype + "'");
    const bool f64 = dtype == "float64";
    double gflops = -1.0;
    {
        py::gil_scoped_release nogil;  // no Python objects may be touched in this scope
        gflops = best_fma_peak(f64, seconds);
    }
    return gflops < 0 ? py::object(py::none()) : py::object(py::float_(gflops));
}

}  // namespace

PYBIND11_MODULE(_cpu, m) {
    m.doc() = "C++ BLIS-style GEMM engine of the kernels package (cpu backend)";
    m.def("gemm", &gemm_entry, py::arg("a"), py::arg("b"), py::arg("c") = py::none(),
          py::arg("alpha") = 1.0, py::arg("beta") = 0.0, py::arg("trans_a") = false,
          py::arg("trans_b") = false, py::arg("out") = py::none(),
          "alpha*op(a)@op(b) + beta*C into out, else c (in place), else a new array");
    m.def("matmul", &matmul_entry, py::arg("a").noconvert(), py::arg("b").noconvert(),
          py::arg("out") = py::none(), "batched matmul of >= 2-D arrays");
    def_qgemm(m);  // the int8 engine: qgemm, qinfo, int8_peak (qgemm_entry.cpp)
    def_bgemm(m);  // the bf16 engine: bgemm, binfo, bf16_peak (bgemm_entry.cpp)
    def_qconv(m);  // qconv2d, QConvWeights (qconv_entry.cpp)
    m.def("select_uarch", &select_uarch_entry, py::arg("name"),
          "use this microarchitecture row's defaults ('auto': the detected CPU's) from the next configure()");
    m.def("configure", &configure_entry, py::arg("isa") = "avx512", py::arg("mc") = 0,
          py::arg("kc") = 0, py::arg("nc") = 0, py::arg("ukernel") = "", py::arg("source") = "configure",
          "cap the ISA, override block sizes (0 = derive from caches), or force one micro-kernel, for both "
          "dtypes (replaces configure_gemm's); `source` labels the overrides in info()[dtype]['source']");
    m.def("configure_gemm", &configure_gemm_entry, py::arg("dtype"), py::arg("ukernel") = "", py::arg("mc") = 0,
          py::arg("kc") = 0, py::arg("nc") = 0, py::arg("source") = "configure_gemm",
          "one dtype's GEMM configuration under the current ISA cap: every kernel of the cap (ukernel '') or only "
          "the named one, block sizes (0 = derived); the other dtype is untouched");
    m.def("set_num_threads", &kernels::set_num_threads, py::arg("n"));
    m.def("get_num_threads", &kernels::num_threads);
    m.def("set_calling_thread_threads", &kernels::set_calling_thread_threads, py::arg("n"),
          "this thread's count alone (its OpenMP ICV); returns the count it had");
    m.def(
        "set_schedule",
        [](const std::string& name) {
            if (name == "dynamic")
                kernels::set_schedule(kernels::Schedule::Dynamic);
            else if (name == "static")
                kernels::set_schedule(kernels::Schedule::Static);
            else
                throw std::invalid_argument("schedule '" + name + "' is not one of: dynamic, static");
        },
        py::arg("name"), "how a product's threads share its work: 'dynamic' (the default) or 'static'");
    m.def("get_schedule",
          [] { return std::string(kernels::schedule() == kernels::Schedule::Dynamic ? "dynamic" : "static"); });
    m.def("info", &info);
    m.def("fma_peak", &fma_peak_entry, py::arg("dtype") = "float32", py::arg("seconds") = 0.2,
          "single-thread FMA throughput in GFLOP/s (the roofline ceiling per core)");
    register_conv(m);
    register_conv_chain(m);
    register_pool(m);
    register_qops(m);
    register_bf16_lower(m);
    m.def("ukernels", &list_ukernels);
    m.def("run_ukernel", &run_ukernel, py::arg("name"), py::arg("k"), py::arg("alpha"),
          py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("beta"),
          py::arg("c").noconvert(), py::arg("m"), py::arg("n"));
}
