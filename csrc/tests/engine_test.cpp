// kernels_engine_test: the C++ engine's GEMM and convolution checked against float64 reference
// loops with no Python, for every ISA this CPU runs and the build contains and for each
// micro-kernel alone. Prints one line per group; exits 1 if any case failed.
//
// Plain C++17, no ISA code of its own: the same driver runs natively and under emulation (qemu
// for RISC-V, .ci/riscv.sh). Environment (both optional, for the slow emulated runs):
//   KERNELS_TEST_ISAS=rvv,generic  run only the groups of these ISAs (rows and micro-kernels);
//   KERNELS_TEST_GROUPS=bf16       run only the groups whose names start with these prefixes;
//   KERNELS_TEST_FORCE_ISA=rvv     first call each built micro-kernel of that ISA once on a 1-step
//                                  tile, bypassing the CPU check: on a CPU without the ISA this
//                                  must die (SIGILL), the negative control of an emulated run. Build: cmake -S . -B build/native -DKERNELS_BUILD_PYTHON=OFF -DKERNELS_BUILD_TESTS=ON;
// run: ctest in build/native, or GOMP_SPINCOUNT=1000 build/native/kernels_engine_test (as CTest
// does: without it, libgomp's long spin-waits make the 7-thread cases crawl on a small machine).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

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
// KERNELS_TEST_GROUPS=bf16,int8: only the groups whose names start with one of these prefixes
// (a shared or emulated machine can check one engine without the hours of the others).
bool group_selected(const std::string& name) {
    const char* env = std::getenv("KERNELS_TEST_GROUPS");
    if (env == nullptr || *env == '\0') return true;
    std::string list = std::string(env) + ",";
    for (std::size_t p = 0, q; (q = list.find(',', p)) != std::string::npos; p = q + 1)
        if (q > p && name.compare(0, q - p, list, p, q - p) == 0) return true;
    return false;
}

void run(const std::string& name, const std::function<void()>& setup, const std::function<void(kt::Group&)>& body) {
    if (!group_selected(name)) return;
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
    // The row's convolution helpers against the portable loops (only where it has any).
    const kernels::IsaKernels<T>& h = kernels::isa_kernels<T>(cap);
    if (h.row_gather || h.weight_pack || h.depthwise_row) {
        n = "helpers " + isa + " " + t;
        run(n, plain, [&](kt::Group& g) { kt::helper_cases<T>(g, cap, seed_of(n)); });
    }
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
    // The per-dtype entry the tuning store goes through: this kernel alone with odd blocks (MC and
    // NC rounded down to the tile), labelled; configure_dtype refuses the other dtype's kernels.
    n = "ukernel " + name + " configure_dtype";
    run(n, [&] {
            kernels::configure(top, 0, 0, 0);
            kernels::configure_dtype<T>(name, 2 * u.mr + 3, 29, 3 * u.nr + 1, "test");
        },
        [&](kt::Group& g) {
            const kernels::Engine<T>& e = kernels::engine<T>();
            const kernels::Blocking b = e.cands.front().blk;
            if (e.cands.size() != 1 || e.cands.front().ukr != &u || b.mc != 2 * u.mr || b.kc != 29 || b.nc != 3 * u.nr ||
                e.origin.kc != "test" || e.origin.ukernel != "test")
                throw std::runtime_error("configure_dtype did not select the kernel and blocks");
            bool refused = false;
            try {
                kernels::configure_dtype<T>(name, -1, 0, 0, "test");
            } catch (const std::invalid_argument&) {
                refused = true;
            }
            if (!refused) throw std::runtime_error("configure_dtype accepted MC=-1");
            kt::gemm_small_block_cases<T>(g, u, seed_of(n));
        });
}

// KERNELS_TEST_ISAS: a comma-separated list of ISA names, or unset for all.
bool isa_selected(const char* isa) {
    const char* list = std::getenv("KERNELS_TEST_ISAS");
    if (list == nullptr || *list == '\0') return true;
    const std::string l = std::string(",") + list + ",";
    return l.find(std::string(",") + isa + ",") != std::string::npos;
}

// KERNELS_TEST_FORCE_ISA: C := A * B with k = 1 through each built kernel of the ISA, no CPU check.
template <typename T>
long forced_calls(const char* isa) {
    long ok = 0;
    for (const kernels::Ukernel<T>* u : kernels::built_ukernels<T>()) {
        if (std::strcmp(kernels::isa_name(u->isa), isa) != 0) continue;
        std::printf("forcing %s (MR %ld x NR %ld) without the CPU check\n", u->name, static_cast<long>(u->mr),
                    static_cast<long>(u->nr));
        std::fflush(stdout);
        const kernels::dim_t mr = u->mr, nr = u->nr;
        std::vector<T> a(static_cast<std::size_t>(mr)), b(static_cast<std::size_t>(nr)), pa(a.size()), pb(b.size()),
            c(static_cast<std::size_t>(mr * nr), T(-1));
        for (kernels::dim_t i = 0; i < mr; ++i) a[i] = T(i + 1);
        for (kernels::dim_t j = 0; j < nr; ++j) b[j] = T(j + 2);
        u->pack_a(mr, 1, a.data(), 1, mr, pa.data());
        u->pack_b(1, nr, b.data(), 1, 1, pb.data());
        u->kernel(1, T(1), pa.data(), pb.data(), T(0), c.data(), 1, mr, mr, nr, nullptr);
        bool right = true;
        for (kernels::dim_t i = 0; i < mr; ++i)
            for (kernels::dim_t j = 0; j < nr; ++j) right = right && c[i + j * mr] == a[i] * b[j];
        std::printf("    ran: %s\n", right ? "C = A*B" : "WRONG RESULT");
        ok += right ? 1 : 0;
    }
    return ok;
}

}  // namespace

int main() {
    const auto t0 = std::chrono::steady_clock::now();
#ifdef _OPENMP
    std::printf("kernels_engine_test: built with OpenMP (%d threads available)\n", omp_get_max_threads());
    {  // A team of the largest count the cases ask for must run on that many OS threads (also
       // under emulation: qemu-user runs guest threads as host threads), or the threaded cases
       // would pass on one thread and prove nothing about the splits.
        constexpr int want = kt::kThreads[sizeof(kt::kThreads) / sizeof(kt::kThreads[0]) - 1];
        int team = 0;
        std::vector<std::thread::id> ids(want);
#pragma omp parallel num_threads(want)
        {
#pragma omp single
            team = omp_get_num_threads();
            ids[omp_get_thread_num()] = std::this_thread::get_id();
        }
        std::sort(ids.begin(), ids.end());
        const long distinct = std::unique(ids.begin(), ids.end()) - ids.begin();
        std::printf("OpenMP team: %d threads asked, %d in the team, %ld distinct OS threads\n", want, team, distinct);
    }
#else
    std::printf("kernels_engine_test: built without OpenMP (one thread; larger requests must still compute all)\n");
#endif
    // Engines are never freed (engine.hpp), so the default one stays valid: weights packed for it
    // are "packed for another engine" under every other configuration.
    const kernels::Engine<float>* default_f32 = &kernels::engine<float>();
    const kernels::Engine<double>* default_f64 = &kernels::engine<double>();
    {
        const kernels::Ukernel<float>& u32 = *default_f32->cands.front().ukr;
        const kernels::Ukernel<double>& u64 = *default_f64->cands.front().ukr;
        std::printf("selected ISA: %s (f32 %s, MR %ld x NR %ld; f64 %s, MR %ld x NR %ld)\n", kernels::isa_name(u32.isa),
                    u32.name, static_cast<long>(u32.mr), static_cast<long>(u32.nr), u64.name,
                    static_cast<long>(u64.mr), static_cast<long>(u64.nr));
    }
    if (const char* forced = std::getenv("KERNELS_TEST_FORCE_ISA"); forced && *forced) {
        const long ok = forced_calls<float>(forced) + forced_calls<double>(forced);
        std::printf("forced %s: %ld kernel(s) computed C = A*B\n", forced, ok);
    }

    run("schedule", [] {}, [](kt::Group& g) { kt::schedule_cases(g); });
    for (const kernels::IsaRow& row : kernels::isa_table()) {
        if (!isa_selected(row.name)) {
            std::printf("skip %s: not in KERNELS_TEST_ISAS\n", row.name);
            continue;
        }
        if (!kernels::isa_built(row.isa) || !kernels::cpu_supports(row.isa)) {
            std::printf("skip %s: %s\n", row.name, kernels::isa_built(row.isa) ? "this CPU cannot run it" : "not in this build");
            continue;
        }
        isa_groups<float>(row, default_f32);
        isa_groups<double>(row, default_f64);
    }
    for (const kernels::Ukernel<float>* u : kernels::built_ukernels<float>())
        if (kernels::cpu_supports(u->isa) && isa_selected(kernels::isa_name(u->isa))) ukernel_groups<float>(*u);
    for (const kernels::Ukernel<double>* u : kernels::built_ukernels<double>())
        if (kernels::cpu_supports(u->isa) && isa_selected(kernels::isa_name(u->isa))) ukernel_groups<double>(*u);
    // bf16: each row's kernels the CPU runs (their own checks too: AMX-BF16, AVX512-BF16), default
    // and tiny blocks.
    for (const kernels::IsaRow& row : kernels::isa_table()) {
        if (!row.build || !row.cpu_runs() || !isa_selected(row.name)) continue;
        for (const kernels::BUkernel* u : row.build->bf16) {
            if (!u || (u->cpu_runs && !u->cpu_runs())) continue;
            for (const bool tiny : {false, true}) {
                const std::string n = std::string("bf16 ") + u->name + (tiny ? " tiny blocks" : "");
                run(n, [] {}, [&](kt::Group& g) { kt::bf16_ukernel_cases(g, *u, tiny, seed_of(n)); });
            }
        }
    }
    kernels::configure(kernels::best_isa(), 0, 0, 0);
    // The int8 kernels, each alone against the portable one (qgemm_cases.cpp).
    for (const kernels::IsaRow& row : kernels::isa_table()) {
        const kernels::QUkernel* u = row.build ? row.build->s8 : nullptr;
        if (!u || !isa_selected(row.name) || !row.cpu_runs() || (u->cpu_runs && !u->cpu_runs())) continue;
        const std::string n = std::string("qgemm ") + u->name;
        run(n, [] {}, [&](kt::Group& g) { kt::qgemm_cases(g, *u, seed_of(n)); });
    }

    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s: %ld groups, %ld cases, %ld failed group(s) (%.1f s)\n", g_failed_groups ? "FAILED" : "OK", g_groups,
                g_cases, g_failed_groups, s);
    return g_failed_groups ? 1 : 0;
}
