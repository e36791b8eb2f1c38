// The microarchitecture table: CPUID vendor/family/model -> the engine's defaults there (uarch.hpp).
// Compiled without ISA flags, like table.cpp: it reads CPUID and holds data.
#include "uarch.hpp"

#include <atomic>
#include <cstring>
#include <stdexcept>

#include "table.hpp"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define KERNELS_HAVE_CPUID 1
#endif

namespace kernels {

namespace {

constexpr std::size_t kMiB = std::size_t(1) << 20;

// ---- Block-size rules (fields in core/blocking.hpp) -----------------------------------------------

// Sapphire Rapids (measured there, see table.cpp's kBlocksX86): B block in a quarter of the
// reported L3, NC <= 2048. Intel's L3 is shared by the whole socket and the reported size is
// large, so the cap on NC is what bounds the B block (4-8 MiB).
constexpr BlockRule kIntelAvx512 = {/*kc_l1_div*/ 2, /*mc_l2_div*/ 4, /*nc_l3_div*/ 4, /*kc_min*/ 64,
                                    /*kc_max*/ 1024, /*mc_max*/ 1024, /*nc_min*/ 512, /*nc_max*/ 2048};

// Zen 5 (measured: EPYC family 1Ah, 2-vCPU VM, 1 thread, n = 2048, grid over MC x KC x NC with the
// AVX-512 kernels; benchmarks/gemm_vs_refs.py before/after): the packed KC x NC block of B must
// stay within ~3 MiB. The derived 8 MiB block (NC 2046) ran dgemm at 80 GFLOP/s, a 4 MiB one at
// 117, 3 MiB at 119 (peak ~125); sgemm 222 -> 243 GFLOP/s. The L3 of a Zen core complex is
// 32 MiB shared by 8 cores (and, on a cloud host, by other tenants): sysfs reports the host's
// whole L3 (384 MiB here), so the L3 term alone cannot see the limit. L1 (48 KiB) and L2 (1 MiB)
// terms as on SPR: KC f32 1024 / f64 512, MC 64 were already the best of the grid.
constexpr BlockRule kZenAvx512 = {2, 4, 4, 64, 1024, 1024, 512, 2048, /*nc_bytes_max*/ 3 * kMiB};
// Zen 4 uses the same rule: on an EPYC family 19h VM (2 vCPUs, 1 thread, benchmarks/gemm_vs_refs.py
// and one process alternating configurations) every step of KC, MC and NC around it ran sgemm and
// dgemm at n = 2048 within 2% of it, which is this machine's noise; its kernels run at the FMA peak
// (perf: 89-90% of the time in the micro-kernel at 97-100% of peak), so what is left is packing and
// C traffic, which no block size moved.
// Zen 4, products whose C has both sides >= 1024: KC 2048, MC 128, NC 2048 (a 32 MiB B block in
// float64, where Zen 5 needs 3 MiB). The step from the rule above is in the combination: one k block
// up to 2048 (C read and written once, not once per 336-680 deep block) with a B block the whole
// product's width. One process alternating configurations, medians (rule -> these):
//   float64 1 thread: 1024^3 40.4 -> 39.9 ms, 2048^3 322.6 -> 312.6 (53.3 -> 55.0 GFLOP/s, 94% of
//   the FMA peak), 4096^3 2609 -> 2508; 2 threads: 1024^3 24.4 -> 22.0 (spreads 1.2-1.4), 2048^3
//   174.5 -> 164.3, 4096^3 1356 -> 1287. float32 1 thread: 1024^3 19.9 -> 19.7, 2048^3 158.8 ->
//   159.2; 2 threads: 2048^3 82.2 -> 80.3, 4096^3 678 -> 663. Narrower products (1024x1024x256,
//   512x2048x512, 2048x512x1024, 512x512x4096 in float32) ran within 1% either way, so they and every
//   convolution keep the rule. MC 192 ran 1 thread as well and lost 9% at 2 threads, 1024^3 (3 row
//   units where the static split has 4).
constexpr LargeProductBlocks kZen4Large = {/*min_mn*/ 1024, /*mc*/ 128, /*kc*/ 2048, /*nc*/ 2048};
// Zen 3 (AVX2, 512 KiB L2, 32 MiB L3 per 8-core complex): the Zen 5 budget. Unmeasured.
constexpr BlockRule kZen3Avx2 = {2, 4, 4, 64, 1024, 1024, 512, 2048, 3 * kMiB};
// Zen 2 (16 MiB L3 per 4-core complex): half the L3 per complex, half the budget. Unmeasured.
constexpr BlockRule kZen2Avx2 = {2, 4, 4, 64, 1024, 1024, 512, 2048, 3 * kMiB / 2};

// ---- Display models per row ------------------------------------------------------------------------

// AMD: family 19h is Zen 3 and Zen 4 by model range (AMD's revision guides); 17h is Zen..Zen 2
// and 1Ah Zen 5 whole. Intel: family 6 by model.
constexpr ModelRange kZen3Models[] = {{0x00, 0x0f}, {0x20, 0x5f}};
constexpr ModelRange kZen4Models[] = {{0x10, 0x1f}, {0x60, 0x7f}, {0xa0, 0xaf}};
constexpr ModelRange kSprModels[] = {{0x8f, 0x8f}, {0xcf, 0xcf}, {0xad, 0xae}};  // Sapphire, Emerald, Granite Rapids
constexpr ModelRange kSkxModels[] = {{0x55, 0x55}, {0x6a, 0x6a}, {0x6c, 0x6c}, {0x7d, 0x7e},  // SKX..CPX, ICX, ICL,
                                     {0x8c, 0x8d}, {0xa7, 0xa7}};                           // TGL, RKL
constexpr ModelRange kHaswellModels[] = {{0x3c, 0x3c}, {0x3f, 0x3f}, {0x45, 0x46}, {0x3d, 0x3d}, {0x47, 0x47},  // HSW, BDW
                                         {0x4f, 0x4f}, {0x56, 0x56}, {0x4e, 0x4e}, {0x5e, 0x5e}, {0x8e, 0x8e},  // SKL, KBL
                                         {0x9e, 0x9e}, {0xa5, 0xa6}, {0x97, 0x97}, {0x9a, 0x9a}, {0xb7, 0xb7},  // CML, ADL
                                         {0xba, 0xba}, {0xbf, 0xbf}};                                          // RPL

template <std::size_t N>
constexpr unsigned count(const ModelRange (&)[N]) { return static_cast<unsigned>(N); }

constexpr const char* kAmd = "AuthenticAMD";
constexpr const char* kIntel = "GenuineIntel";

// ---- The table: first match wins; the last row matches every CPU ----------------------------------

const UarchRow kRows[] = {
    {"zen5", "AMD Zen 5 (512-bit FMA datapaths, 48 KiB L1d, 1 MiB L2, 32 MiB L3 per complex)", kAmd, 0x1a, nullptr, 0,
     &kZenAvx512, &kZen3Avx2, {}, 4,
     "block sizes measured on an EPYC family 1Ah VM (the 3 MiB B block); kernel order checked there at n = 2048; "
     "kernel efficiencies and grid weight are Sapphire Rapids'"},
    {"zen4", "AMD Zen 4 (AVX-512 on 256-bit datapaths, 32 KiB L1d, 1 MiB L2, 32 MiB L3 per complex)", kAmd, 0x19,
     kZen4Models, count(kZen4Models), &kZenAvx512, &kZen3Avx2, {}, 4,
     "block sizes checked on an EPYC family 19h model 11h VM (1 thread, n = 2048: KC x0.75-x2.3, MC x0.67-x2, NC "
     "x0.5-x1.75 of Zen 5's rule all within 2% of it, the noise; products of both sides >= 1024 take KC 2048, MC 128, "
     "NC 2048 together, measured there at 1 and 2 threads); kernel order checked there at 1 and 2 threads; "
     "kernel efficiencies and grid weight are Sapphire Rapids'", kZen4Large},
    {"zen3", "AMD Zen 3 (AVX2, 512 KiB L2, 32 MiB L3 per complex)", kAmd, 0x19, kZen3Models, count(kZen3Models),
     nullptr, &kZen3Avx2, {}, 4, "derived from Zen 5's B-block budget; unmeasured"},
    {"zen2", "AMD Zen / Zen+ / Zen 2 (AVX2, 512 KiB L2, 8-16 MiB L3 per complex)", kAmd, 0x17, nullptr, 0,
     nullptr, &kZen2Avx2, {}, 4, "derived: Zen 5's B-block budget halved with the L3 per complex; unmeasured"},
    {"spr", "Intel Sapphire / Emerald / Granite Rapids (AVX-512, AMX, 2 MiB L2)", kIntel, 6, kSprModels,
     count(kSprModels), &kIntelAvx512, &kIntelAvx512, {}, 4,
     "measured on a Sapphire Rapids VM (block sizes, kernel efficiencies, grid weight)"},
    {"skx", "Intel Skylake-SP / Cascade Lake / Ice Lake (AVX-512, 1-1.25 MiB L2)", kIntel, 6, kSkxModels,
     count(kSkxModels), &kIntelAvx512, &kIntelAvx512, {}, 4, "derived: Sapphire Rapids' rule on its cache sizes; unmeasured"},
    {"haswell", "Intel Haswell .. Raptor Lake client (AVX2, 256 KiB-2 MiB L2)", kIntel, 6, kHaswellModels,
     count(kHaswellModels), nullptr, &kIntelAvx512, {}, 4, "derived: Sapphire Rapids' rule on its cache sizes; unmeasured"},
    {"unknown", "not in the table: the ISA rows' defaults from the cache sizes", nullptr, 0, nullptr, 0,
     nullptr, nullptr, {}, 4, "the ISA table's rules (arch/table.cpp)"},
};
constexpr std::size_t kNumRows = sizeof(kRows) / sizeof(kRows[0]);

bool matches(const UarchRow& r, const CpuId& id) {
    if (r.vendor == nullptr) return true;
    if (std::strcmp(r.vendor, id.vendor) != 0 || r.family != id.family) return false;
    if (r.models == nullptr) return true;
    for (unsigned i = 0; i < r.n_models; ++i)
        if (r.models[i].lo <= id.model && id.model <= r.models[i].hi) return true;
    return false;
}

const UarchRow& detect() {
    const CpuId id = cpu_id();
    for (const UarchRow& r : kRows)
        if (matches(r, id)) return r;
    return kRows[kNumRows - 1];
}

std::atomic<const UarchRow*> g_selected{nullptr};

}  // namespace

CpuId cpu_id() {
    CpuId id{};
#ifdef KERNELS_HAVE_CPUID
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid(0, &a, &b, &c, &d)) {
        std::memcpy(id.vendor, &b, 4);
        std::memcpy(id.vendor + 4, &d, 4);
        std::memcpy(id.vendor + 8, &c, 4);
    }
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        // Display family/model (Intel SDM vol. 2A, CPUID leaf 1; AMD APM vol. 3, E.3.2).
        const unsigned base_family = (a >> 8) & 0xf, base_model = (a >> 4) & 0xf;
        id.family = base_family == 0xf ? base_family + ((a >> 20) & 0xff) : base_family;
        id.model = (base_family == 0xf || base_family == 0x6) ? base_model + (((a >> 16) & 0xf) << 4) : base_model;
    }
#endif
    return id;
}

const UarchRow& detected_uarch() {
    static const UarchRow& row = detect();
    return row;
}

const UarchRow& host_uarch() {
    const UarchRow* r = g_selected.load(std::memory_order_acquire);
    return r ? *r : detected_uarch();
}

void select_uarch(const std::string& name) {
    if (name.empty() || name == "auto") {
        g_selected.store(nullptr, std::memory_order_release);
        return;
    }
    for (const UarchRow& r : kRows)
        if (name == r.name) {
            g_selected.store(&r, std::memory_order_release);
            return;
        }
    throw std::invalid_argument("unknown microarchitecture '" + name + "'; allowed: auto, " + uarch_names());
}

std::string uarch_names() {
    std::string out;
    for (const UarchRow& r : kRows) out += std::string(out.empty() ? "" : ", ") + r.name;
    return out;
}

const BlockRule& block_rule_for(Isa isa) {
    const UarchRow& u = host_uarch();
    const BlockRule* r = isa == Isa::avx512 ? u.avx512 : isa == Isa::avx2 ? u.avx2 : nullptr;
    return r ? *r : isa_row(isa).blocks;
}

template <typename T>
double efficiency_for(const Ukernel<T>& k) {
    for (const KernelEfficiency& e : host_uarch().efficiencies) {
        if (e.ukernel == nullptr) break;
        if (std::strcmp(e.ukernel, k.name) == 0) return e.efficiency;
    }
    return k.efficiency;
}
template double efficiency_for<float>(const Ukernel<float>&);
template double efficiency_for<double>(const Ukernel<double>&);

}  // namespace kernels
