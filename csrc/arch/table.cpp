// The one ISA table: per instruction set its name, CPU check, kernels and helpers, and block-size
// rule. Adding an ISA: a folder arch/<isa>/, its kernel list and one row here (CONTRIBUTING.md).
// This file is compiled without ISA flags: it only reads CPUID and holds addresses; the code they
// point at runs only where the row's CPU check passed.
#include "table.hpp"

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "product_generation.hpp"

#if defined(__riscv) && defined(__linux__)
#include <csetjmp>
#include <csignal>
#include <sys/auxv.h>
#endif

// The folders of this build (CMake defines KERNELS_HAVE_<ISA> for each one in KERNELS_ISAS).
#include "generic/generic.hpp"
#ifdef KERNELS_HAVE_AVX2
#include "avx2/avx2.hpp"
#endif
#ifdef KERNELS_HAVE_AVX512
#include "avx512/amx.hpp"
#include "avx512/avx512.hpp"
#endif
#ifdef KERNELS_HAVE_RVV
#include "rvv/rvv.hpp"
#endif

namespace kernels {

std::atomic<std::uint64_t> g_product_generation{0};

namespace {

// ---- CPU checks: the one place CPU features are read ---------------------------------------------

bool runs_anywhere() { return true; }

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
// __builtin_cpu_supports also checks that the OS saves the wider registers (XCR0).
bool runs_avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
bool runs_avx512() {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#else
bool runs_avx2() { return false; }
bool runs_avx512() { return false; }
#endif

#if defined(KERNELS_HAVE_RVV) && defined(__riscv) && defined(__linux__)
// V: AT_HWCAP's bit 'V' - 'A' where the kernel sets it; else (older kernels, qemu-user 7.2, which
// may run V without announcing it) a probe: read the vector CSR vlenb under a SIGILL handler.
// Either way the one vlenb read also sizes the vector-length-agnostic kernels (their MR), once,
// before the row can be selected (rvv.hpp). Thread-safe: a function-local static.
sigjmp_buf g_rvv_jump;
void rvv_sigill(int) { siglongjmp(g_rvv_jump, 1); }

std::size_t rvv_vlenb_or_zero() {
    // KERNELS_RVV_PROBE=1 skips the hwcap bit, so that the probe's positive answer is testable
    // under qemu 7.2, which sets the bit whenever it runs V (.ci/riscv.sh).
    const char* probe_only = std::getenv("KERNELS_RVV_PROBE");
    const bool hwcap = probe_only == nullptr || std::strcmp(probe_only, "1") != 0;
    if (hwcap && (getauxval(AT_HWCAP) & (1ul << ('V' - 'A')))) return rvv::vlenb();
    struct sigaction on {}, old {};
    on.sa_handler = &rvv_sigill;
    sigemptyset(&on.sa_mask);
    if (sigaction(SIGILL, &on, &old) != 0) return 0;
    std::size_t b = 0;
    if (sigsetjmp(g_rvv_jump, 1) == 0) b = rvv::vlenb();
    sigaction(SIGILL, &old, nullptr);
    return b;
}

bool runs_rvv() {
    static const bool ok = [] {
        const std::size_t b = rvv_vlenb_or_zero();
        if (b < 16) return false;  // RVV 1.0's V has VLEN >= 128 bits
        ukr_f32_rvv_m2x8.mr = rvv::mr_f32(b);
        ukr_f64_rvv_m2x8.mr = rvv::mr_f64(b);
        return true;
    }();
    return ok;
}
#else
bool runs_rvv() { return false; }
#endif

// ---- Block-size rules (the model is in core/blocking.hpp) ----------------------------------------

// Measured on a Sapphire Rapids core (2 MiB L2) with the AVX-512 kernels, by a tuning grid over
// MC x KC x NC at n = 2048 and 4096: KC x NR panel of B in half of L1; MC x KC block of A in a
// quarter of L2 (half lost 3-5%); KC x NC block of B in a quarter of L3, NC capped at 2048 (sysfs
// reports the whole socket's L3, even a host's in a VM; NC = 4096 lost 5-8% at n = 4096). The
// AVX2 and portable kernels use it unmeasured.
constexpr BlockRule kBlocksX86 = {/*kc_l1_div*/ 2, /*mc_l2_div*/ 4, /*nc_l3_div*/ 4, /*kc_min*/ 64,
                                  /*kc_max*/ 1024, /*mc_max*/ 1024, /*nc_min*/ 512, /*nc_max*/ 2048};

// RVV (vector-length agnostic): the x86 model on the same cache sizes, since each term already
// follows from MR, NR and the caches: KC from the L1 share of an 8-column B panel, MC (a multiple
// of MR = 2 * VLEN / SEW, at least one MR) from L2, NC from L3. Long vectors raise mc_max: at
// VLEN 16384 one f32 tile alone has MR = 1024 rows. Unmeasured (no RVV hardware here).
constexpr BlockRule kBlocksRvv = {/*kc_l1_div*/ 2, /*mc_l2_div*/ 4, /*nc_l3_div*/ 4, /*kc_min*/ 64,
                                  /*kc_max*/ 1024, /*mc_max*/ 4096, /*nc_min*/ 512, /*nc_max*/ 2048};

// ---- Kernels and helpers of each folder ----------------------------------------------------------
// Micro-kernels in the order the engine considers them (it picks per problem shape).

constexpr IsaBuild kGeneric = {
    {{&ukr_f32_generic_8x4}, nullptr, nullptr, nullptr},
    {{&ukr_f64_generic_4x4}, nullptr, nullptr, nullptr},
    nullptr,
    &ukr_s8_generic_8x4,
    nullptr,
    {&ukr_bf16_generic_8x4},
};

#ifdef KERNELS_HAVE_AVX2
constexpr IsaBuild kAvx2Build = {
    {{&ukr_f32_avx2_16x6}, nullptr, nullptr, nullptr},
    {{&ukr_f64_avx2_8x6}, nullptr, nullptr, nullptr},
    &avx2::fma_peak,
    &ukr_s8_avx2_8x6,
    nullptr,
    {&ukr_bf16_avx2_16x6},  // widened to fp32 while packing, then the fp32 kernel
    nullptr,
    &avx2::qadd,
};
constexpr const IsaBuild* kAvx2 = &kAvx2Build;
#else
constexpr const IsaBuild* kAvx2 = nullptr;
#endif

#ifdef KERNELS_HAVE_AVX512
constexpr IsaBuild kAvx512Build = {
    {{&ukr_f32_avx512_64x6, &ukr_f32_avx512_32x12}, &avx512::gather_row<float>,
     &avx512::pack_weight_chunk<float>, &avx512::depthwise_row<float>},
    {{&ukr_f64_avx512_32x6, &ukr_f64_avx512_16x12}, &avx512::gather_row<double>,
     &avx512::pack_weight_chunk<double>, &avx512::depthwise_row<double>},
    &avx512::fma_peak,
    &ukr_s8_avx512vnni_32x12,  // only where the CPU has AVX512-VNNI (its own check), else avx2's
    &avx512::int8_peak,
    // AMX tiles where the CPU has AMX-BF16 and the OS grants them, else AVX512-BF16, else avx2's
    {&ukr_bf16_amx_32x32, &ukr_bf16_avx512bf16_32x12},
    &avx512::bf16_peak,
    &avx512::qadd,
};
constexpr const IsaBuild* kAvx512 = &kAvx512Build;
#else
constexpr const IsaBuild* kAvx512 = nullptr;
#endif

#ifdef KERNELS_HAVE_RVV
// No FMA probe (its accumulator arrays cannot hold sizeless RVV types; best_fma_peak then answers < 0).
constexpr IsaBuild kRvvBuild = {
    {{&ukr_f32_rvv_m2x8}, &rvv::gather_row<float>, &rvv::pack_weight_chunk<float>, &rvv::depthwise_row<float>},
    {{&ukr_f64_rvv_m2x8}, &rvv::gather_row<double>, &rvv::pack_weight_chunk<double>, &rvv::depthwise_row<double>},
    nullptr,
};
constexpr const IsaBuild* kRvv = &kRvvBuild;
#else
constexpr const IsaBuild* kRvv = nullptr;
#endif

// ---- The table, best ISA first --------------------------------------------------------------------

constexpr IsaRow kTable[] = {
    // ISA          name        CPU check        kernels     block sizes
    {Isa::avx512,  "avx512",   &runs_avx512,    kAvx512,    kBlocksX86},
    {Isa::avx2,    "avx2",     &runs_avx2,      kAvx2,      kBlocksX86},
    {Isa::rvv,     "rvv",      &runs_rvv,       kRvv,       kBlocksRvv},
    {Isa::generic, "generic",  &runs_anywhere,  &kGeneric,  kBlocksX86},
};
constexpr std::size_t kRows = sizeof(kTable) / sizeof(kTable[0]);

constexpr bool best_first() {
    for (std::size_t i = 1; i < kRows; ++i)
        if (static_cast<int>(kTable[i - 1].isa) <= static_cast<int>(kTable[i].isa)) return false;
    return kTable[kRows - 1].isa == Isa::generic;
}
static_assert(best_first(), "rows are sorted best ISA first, one per ISA, generic (always built) last");

template <typename T>
std::vector<const Ukernel<T>*> collect_built() {
    std::vector<const Ukernel<T>*> out;
    // A vector-length-agnostic ISA sizes its kernels (MR) in its CPU check (runs_rvv): run every
    // built row's check first, so no kernel handed out below still shows its placeholder MR.
    for (const IsaRow& r : kTable)
        if (r.build) (void)r.cpu_runs();
    for (const IsaRow& r : kTable)
        if (r.build)
            for (const Ukernel<T>* u : kernels_of<T>(*r.build).ukernels) {
                if (u == nullptr) continue;
                // A kernel's own isa decides its cap and CPU check: it must be the row's.
                if (u->isa != r.isa) throw std::logic_error(std::string(u->name) + " is listed in the row of " + r.name);
                out.push_back(u);
            }
    return out;
}

}  // namespace

IsaRows isa_table() { return {kTable, kTable + kRows}; }

const IsaRow& isa_row(Isa isa) {
    for (const IsaRow& r : kTable)
        if (r.isa == isa) return r;
    return kTable[kRows - 1];  // unreachable: every Isa has a row (best_first)
}

Isa best_isa() { return kTable[0].isa; }

bool cpu_supports(Isa isa) { return isa_row(isa).cpu_runs(); }
bool isa_built(Isa isa) { return isa_row(isa).build != nullptr; }
const char* isa_name(Isa isa) { return isa_row(isa).name; }

bool parse_isa(const char* name, Isa* out) {
    for (const IsaRow& r : kTable)
        if (std::strcmp(name, r.name) == 0) {
            *out = r.isa;
            return true;
        }
    return false;
}

std::string isa_names() {
    std::string out;
    for (std::size_t i = kRows; i-- > 0;) out += std::string(out.empty() ? "" : ", ") + kTable[i].name;
    return out;
}

// Out of line, also under LTO: inlined into the conv packers (once per packed block), the row
// search only reshuffled their registers; as a call it leaves their code as it was.
template <typename T>
KERNELS_NOINLINE const IsaKernels<T>& isa_kernels(Isa isa) {
    static constexpr IsaKernels<T> none{};
    const IsaRow& r = isa_row(isa);
    return r.build ? kernels_of<T>(*r.build) : none;
}
template const IsaKernels<float>& isa_kernels<float>(Isa);
template const IsaKernels<double>& isa_kernels<double>(Isa);

template <typename T>
const std::vector<const Ukernel<T>*>& built_ukernels() {
    static const std::vector<const Ukernel<T>*> all = collect_built<T>();
    return all;
}
template const std::vector<const Ukernel<float>*>& built_ukernels<float>();
template const std::vector<const Ukernel<double>*>& built_ukernels<double>();

template <typename T>
std::vector<const Ukernel<T>*> select_ukernels(Isa cap) {
    std::vector<const Ukernel<T>*> out;
    for (const Ukernel<T>* u : built_ukernels<T>()) {
        if (static_cast<int>(u->isa) > static_cast<int>(cap) || !cpu_supports(u->isa)) continue;
        if (!out.empty() && u->isa != out.front()->isa) break;  // table is sorted best ISA first
        out.push_back(u);
    }
    return out;  // never empty: the generic kernel is always built and runnable
}
template std::vector<const Ukernel<float>*> select_ukernels<float>(Isa);
template std::vector<const Ukernel<double>*> select_ukernels<double>(Isa);

bool int8_amx(int set) {
#ifdef KERNELS_HAVE_AVX512
    if (set >= 0) set_int8_amx(set != 0);
    return int8_amx_enabled();
#else
    (void)set;
    return false;
#endif
}

void end_product_on_thread() {
#ifdef KERNELS_HAVE_AVX512
    amx::restore();  // (nothing to do, no tile instruction, where this thread configured no tiles)
#endif
}

double amx_peak(bool int8, double seconds) {
#ifdef KERNELS_HAVE_AVX512
    if (!cpu_supports(Isa::avx512)) return -1.0;
    return int8 ? amx::int8_peak(seconds) : amx::bf16_peak(seconds);
#else
    (void)int8, (void)seconds;
    return -1.0;
#endif
}

bool bf16_amx(int set) {
#ifdef KERNELS_HAVE_AVX512
    if (set >= 0) set_bf16_amx(set != 0);
    return &select_bukernel(Isa::avx512) == &ukr_bf16_amx_32x32;
#else
    (void)set;
    return false;
#endif
}

double best_int8_peak(double seconds) {
    for (const IsaRow& r : kTable)
        if (r.build && r.build->int8_peak && r.build->s8 && r.cpu_runs() && (!r.build->s8->cpu_runs || r.build->s8->cpu_runs()))
            return r.build->int8_peak(seconds);
    return -1.0;
}

const BUkernel* runnable_bukernel(const IsaBuild& b) {
    for (const BUkernel* u : b.bf16)
        if (u && (!u->cpu_runs || u->cpu_runs())) return u;
    return nullptr;
}

double best_bf16_peak(double seconds) {
    for (const IsaRow& r : kTable)
        if (r.build && r.build->bf16_peak && r.cpu_runs() && runnable_bukernel(*r.build)) return r.build->bf16_peak(seconds);
    return -1.0;
}

const BUkernel& select_bukernel(Isa cap) {
    for (const IsaRow& r : kTable) {
        if (static_cast<int>(r.isa) > static_cast<int>(cap) || !r.build || !r.cpu_runs()) continue;
        if (const BUkernel* u = runnable_bukernel(*r.build)) return *u;
    }
    return ukr_bf16_generic_8x4;  // unreachable: generic has one and always runs
}

qadd_fn select_qadd(Isa cap, Isa* isa) {
    for (const IsaRow& r : kTable) {
        if (static_cast<int>(r.isa) > static_cast<int>(cap) || !r.build || !r.build->qadd || !r.cpu_runs()) continue;
        *isa = r.isa;
        return r.build->qadd;
    }
    *isa = Isa::generic;
    return nullptr;
}

double best_fma_peak(bool f64, double seconds) {
    for (const IsaRow& r : kTable)
        if (r.build && r.build->fma_peak && r.cpu_runs()) return r.build->fma_peak(f64, seconds);
    return -1.0;
}

}  // namespace kernels
