// kernels_engine_test: the C++ engine's GEMM and convolution checked against float64 reference
// loops with no Python, for every ISA this CPU runs and the build contains and for each
// micro-kernel alone. Prints one line per group; exits 1 if any case failed.
//
// Plain C++17, no ISA code of its own: the same driver runs natively and under emulation (qemu
// for RISC-V). Build: cmake -S . -B build/native -DKERNELS_BUILD_PYTHON=OFF -DKERNELS_BUILD_TESTS=ON;
// run: ctest in build/native, or GOMP_SPINCOUNT=1000 build/native/kernels_engine_test (as CTest
// does: without it, libgomp's long spin-waits make the 7-thread cases crawl on a small machine).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>

#include "../arch/table.hpp"
#include "../core/engine.hpp"
#include "suites.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace kt = kernels_test;

namespace {

long g_groups = 0, g_cases = 0, g_failed_groups = 0;

// Runs one group (under the engine configuration `setup` makes) and prints its line.
void run(const std::string& name, const std::function<void()>& setup, const std::function<void(kt::Group&)>& body) {
    kt::Group grp(name);
    const auto t0 = std::chrono::steady_clock::now();
    try {
        setup();
        body(grp);
    } catch (const std::exception& e) {  // configure() or the test itself
        grp.note(std::string("threw: ") + e.what());
        ++grp.failed;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const bool ok = grp.failed == 0;
    std::printf("%s %-44s cases %6ld  failed %4ld  max err/bound %.3g  (%.1f s)\n", ok ? "PASS" : "FAIL", name.c_str(),
                grp.cases, grp.failed, grp.worst, s);
    for (const std::string& n : grp.notes) std::printf("    %s\n", n.c_str());
    std::fflush(stdout);
    ++g_groups, g_cases += grp.cases;
    if (!ok) ++g_failed_groups;
}

template <typename T>
const char* tname() {
    return sizeof(T) == 4 ? "f32" : "f64";
}

// A fixed seed per group, so that a failure reproduces.
std::uint64_t seed_of(const std::string& name) {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (const char c : name) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    return h;
}

template <typename T>
void isa_groups(const kernels::IsaRow& row, const kernels::Engine<T>* default_engine) {
    const std::string isa = row.name, t = tname<T>();
    const kernels::Isa cap = row.isa;
    const auto plain = [cap] { kernels::configure(cap, 0, 0, 0); };
    // Tiny blocks (MC = MR, KC = 20, NC = NR): several blocks per layer, the direct kernel's
    // weight blocks cut along C (partial sums through y).
    const auto tiny = [cap] { kernels::configure(cap, 1, 20, 1); };
    std::string n = "gemm " + isa + " " + t;
    run(n, plain, [&](kt::Group& g) {
        if (kernels::engine<T>().cands.front().ukr->isa != cap) throw std::runtime_error("configure did not select " + isa);
        kt::gemm_isa_cases<T>(g, seed_of(n));
    });
    n = "conv2d " + isa + " " + t;
    run(n, plain, [&](kt::Group& g) { kt::conv_cases<T>(g, default_engine, seed_of(n)); });
    n = "conv2d " + isa + " " + t + " tiny blocks";
    run(n, tiny, [&](kt::Group& g) { kt::conv_cases<T>(g, default_engine, seed_of(n)); });
}

template <typename T>
void ukernel_groups(const kernels::Ukernel<T>& u) {
    const std::string name = u.name;
    const kernels::Isa top = kernels::best_isa();
    std::string n = "ukernel " + name;
    run(n, [&] { kernels::configure(top, 0, 0, 0, name); }, [&](kt::Group& g) { kt::gemm_ukernel_cases<T>(g, u, seed_of(n)); });
    n = "ukernel " + name + " tiny blocks";
    run(n, [&] { kernels::configure(top, 2 * u.mr, 13, 2 * u.nr, name); },
        [&](kt::Group& g) { kt::gemm_small_block_cases<T>(g, u, seed_of(n)); });
}

}  // namespace

int main() {
    const auto t0 = std::chrono::steady_clock::now();
#ifdef _OPENMP
    std::printf("kernels_engine_test: built with OpenMP (%d threads available)\n", omp_get_max_threads());
#else
    std::printf("kernels_engine_test: built without OpenMP (one thread; larger requests must still compute all)\n");
#endif
    // Engines are never freed (engine.hpp), so the default one stays valid: weights packed for it
    // are "packed for another engine" under every other configuration.
    const kernels::Engine<float>* default_f32 = &kernels::engine<float>();
    const kernels::Engine<double>* default_f64 = &kernels::engine<double>();

    for (const kernels::IsaRow& row : kernels::isa_table()) {
        if (!kernels::isa_built(row.isa) || !kernels::cpu_supports(row.isa)) {
            std::printf("skip %s: %s\n", row.name, kernels::isa_built(row.isa) ? "this CPU cannot run it" : "not in this build");
            continue;
        }
        isa_groups<float>(row, default_f32);
        isa_groups<double>(row, default_f64);
    }
    for (const kernels::Ukernel<float>* u : kernels::built_ukernels<float>())
        if (kernels::cpu_supports(u->isa)) ukernel_groups<float>(*u);
    for (const kernels::Ukernel<double>* u : kernels::built_ukernels<double>())
        if (kernels::cpu_supports(u->isa)) ukernel_groups<double>(*u);
    kernels::configure(kernels::best_isa(), 0, 0, 0);

    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s: %ld groups, %ld cases, %ld failed group(s) (%.1f s)\n", g_failed_groups ? "FAILED" : "OK", g_groups,
                g_cases, g_failed_groups, s);
    return g_failed_groups ? 1 : 0;
}
