// Per-microarchitecture defaults: which CPU this is (CPUID vendor, family, model) and the engine
// parameters measured or derived for it, as data (BLIS keeps one config per microarchitecture:
// config/zen4, config/skx, ...). The ISA table (table.hpp) says what a CPU can run; this table says
// how to run it well there. A new microarchitecture is one row in uarch.cpp.
#pragma once

#include <string>

#include "../core/blocking.hpp"
#include "ukernel.hpp"

namespace kernels {

// A micro-kernel's efficiency on this microarchitecture (Engine::pick trades it against padding).
struct KernelEfficiency {
    const char* ukernel;  // nullptr ends the list
    double efficiency;
};

constexpr int kMaxTunedKernels = 8;

struct ModelRange {
    unsigned char lo, hi;  // display models lo..hi inclusive
};

// Blocks for large products (both sides of C at least min_mn): where streaming operands from L2 and
// L3 costs less than the C traffic and repacking of cache-sized blocks (gemm/gemm.cpp). 0: none.
struct LargeProductBlocks {
    dim_t min_mn = 0;
    dim_t mc = 0, kc = 0, nc = 0;
};

struct UarchRow {
    const char* name;         // as KERNELS_CPU_UARCH spells it: "zen4", "spr", ...
    const char* description;  // what `info` shows
    const char* vendor;       // CPUID vendor string ("AuthenticAMD", "GenuineIntel"); nullptr: any
    unsigned family;          // CPUID display family
    const ModelRange* models;  // display models of the family (nullptr: all of them)
    unsigned n_models;
    // Block-size rules for the x86 ISAs on this microarchitecture (nullptr: the ISA row's rule).
    const BlockRule* avx512;
    const BlockRule* avx2;
    KernelEfficiency efficiencies[kMaxTunedKernels];  // overrides of the kernels' nominal values
    int grid_stream_weight;   // choose_grid's cost of a streamed element in FMA lanes (driver.hpp)
    const char* provenance;   // how the values were obtained: measured where, or derived from what
    LargeProductBlocks large = {};  // the float GEMM's blocks for large products (AVX-512 kernels)
};

// The row of the host CPU (detected once), or the row forced with select_uarch.
const UarchRow& host_uarch();
// The row detected from CPUID, whatever is selected.
const UarchRow& detected_uarch();
// Force a row by name ("auto": detect again). Throws std::invalid_argument naming the rows. Takes
// effect at the next configure() (the engine reads the row when it builds its candidates).
void select_uarch(const std::string& name);
// Every row's name, comma separated.
std::string uarch_names();
// CPUID facts for `info`: vendor string, display family and model (zeros off x86).
struct CpuId {
    char vendor[13];
    unsigned family, model;
};
CpuId cpu_id();

// What the engine uses on this microarchitecture for kernel u: its block-size rule and efficiency.
const BlockRule& block_rule_for(Isa isa);
template <typename T>
double efficiency_for(const Ukernel<T>& u);

}  // namespace kernels
