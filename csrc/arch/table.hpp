// The ISA table's interface: what a row holds (name, CPU check, kernels, optional helpers, block
// rule) and the lookups portable code uses instead of naming an ISA. The rows are in table.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../conv/conv_geometry.hpp"
#include "../core/blocking.hpp"
#include "../core/common.hpp"
#include "bukernel.hpp"
#include "qukernel.hpp"
#include "ukernel.hpp"

namespace kernels {

// ---- Optional helpers of an ISA, beside its micro-kernels --------------------------------------
// Portable code asks the table for the helper of the ISA it runs (that of the micro-kernel whose
// panels it fills) and runs its own portable loop where the row has none (nullptr). A helper is
// called only for a built ISA whose CPU check passed.

// Row gather of the implicit im2col (conv_pack.cpp): d[0:len) := row[first + t*step] for the t
// whose input column first + t*step lies in [0, size), zero for the others; row == nullptr: all
// zeros. Only unit-stride rows and step 1 or 2 are passed (conv/gather_row.hpp: the portable form).
template <typename T>
using row_gather_fn = void (*)(T* d, const T* row, dim_t first, dim_t step, dim_t len, dim_t size);

// pack_weight_chunk's contract (conv/conv_pack.hpp) for panels of mr rows; mr is the MR of one of
// the ISA's own micro-kernels (so a multiple of its vector width).
template <typename T>
using weight_pack_fn = void (*)(const T* w, const ConvGeom& g, dim_t mr, dim_t i0, dim_t mc, dim_t c0, dim_t kc,
                                T* dst);

// Channels [cb, ce) of one output row (image img, output row ho) of a depthwise layer whose x and y
// have unit channel stride, taps as R x S x C (conv/depthwise.hpp). cb is a multiple of 16.
template <typename T>
using depthwise_row_fn = void (*)(const ConvGeom& g, const ConvIO<T>& io, const T* taps, dim_t img, dim_t ho,
                                  dim_t cb, dim_t ce);
// The ISA's row kernel suited to layer g, asked once per call (it may specialise on R, S, strides).
template <typename T>
using depthwise_pick_fn = depthwise_row_fn<T> (*)(const ConvGeom& g);

// The QAdd formula (onnxruntime's QLinearAdd, ops/qadd.hpp) over n byte pairs: out[i] =
// saturate(round_half_even(fma(a[i], ra, fma(b[i], rb, k)))), the bytes read as int8 (is_signed)
// or uint8. Every ISA's helper gives the portable loop's bytes exactly (the same float32 FMAs).
using qadd_fn = void (*)(const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out, dim_t n, bool is_signed,
                         float ra, float rb, float k);

// Single-thread FMA throughput in GFLOP/s with the ISA's vectors, measured for about `seconds`.
using fma_peak_fn = double (*)(bool f64, double seconds);

// ---- Rows ---------------------------------------------------------------------------------------

constexpr int kMaxUkernelsPerIsa = 4;

// What a built ISA folder provides for element type T.
template <typename T>
struct IsaKernels {
    // Its micro-kernels in the order the engine considers them, nullptr-padded. The engine takes
    // all of them as candidates and picks one per problem shape (Engine::pick).
    const Ukernel<T>* ukernels[kMaxUkernelsPerIsa];
    row_gather_fn<T> row_gather;         // nullptr: the portable gather_row
    weight_pack_fn<T> weight_pack;       // nullptr: the portable weight_chunk
    depthwise_pick_fn<T> depthwise_row;  // nullptr: the portable per-pixel loop
};

// Everything a built ISA folder registers.
struct IsaBuild {
    IsaKernels<float> f32;
    IsaKernels<double> f64;
    fma_peak_fn fma_peak;  // nullptr: no probe
    // The int8 (u8 x s8 -> s32) micro-kernel (nullptr: none; the next row's runs) and its
    // single-thread peak probe in GOP/s (a multiply and an add per u8 x s8 product; nullptr: none).
    const QUkernel* s8 = nullptr;
    double (*int8_peak)(double seconds) = nullptr;
    // The bf16 micro-kernels (bf16 x bf16 -> fp32), preferred first, nullptr-padded: the first whose
    // own check passes runs (none: the next row's); and the single-thread peak probe of the row's
    // vector bf16 instructions in GFLOP/s (nullptr: none).
    const BUkernel* bf16[2] = {};
    double (*bf16_peak)(double seconds) = nullptr;
    qadd_fn qadd = nullptr;  // nullptr: the next row's (the portable loop at the end)
};

template <typename T>
constexpr const IsaKernels<T>& kernels_of(const IsaBuild& b) {
    if constexpr (sizeof(T) == sizeof(float)) return b.f32;
    else return b.f64;
}

struct IsaRow {
    Isa isa;
    const char* name;       // as KERNELS_CPU_ISA and configure(isa=...) spell it
    bool (*cpu_runs)();     // the CPU and OS run the ISA's instructions (CPUID, read here only)
    const IsaBuild* build;  // nullptr: not compiled into this build (CMake KERNELS_ISAS)
    BlockRule blocks;       // block sizes of its kernels from the cache sizes (core/blocking.hpp)
};

// ---- Lookups --------------------------------------------------------------------------------------

// The rows, best ISA first; the last is generic, always built and runnable.
struct IsaRows {
    const IsaRow* first;
    const IsaRow* last;
    const IsaRow* begin() const { return first; }
    const IsaRow* end() const { return last; }
};
IsaRows isa_table();
const IsaRow& isa_row(Isa isa);
Isa best_isa();  // the top row: the default cap

bool cpu_supports(Isa isa);  // the CPU and OS can run this ISA's instructions
bool isa_built(Isa isa);     // this build contains the ISA's micro-kernels
const char* isa_name(Isa isa);
bool parse_isa(const char* name, Isa* out);
std::string isa_names();  // every row's name, comma separated, in increasing order of capability

// The kernels and helpers of a built ISA (all nullptr for one not built).
template <typename T>
const IsaKernels<T>& isa_kernels(Isa isa);

// Every micro-kernel compiled into this build for T, best ISA first (runnable or not).
template <typename T>
const std::vector<const Ukernel<T>*>& built_ukernels();

// The micro-kernels of the best ISA <= cap that this CPU runs (generic always qualifies), in
// table order; the driver picks among them per problem shape.
template <typename T>
std::vector<const Ukernel<T>*> select_ukernels(Isa cap);

// The FMA peak with the best built ISA the CPU runs that has a probe; < 0 when none has.
double best_fma_peak(bool f64, double seconds);
// Single-thread int8 multiply-add throughput (GOP/s, 2 per u8 x s8 product) of the best ISA whose
// int8 kernel runs here and that has a probe (AVX512-VNNI: vpdpbusd); < 0 when none has.
double best_int8_peak(double seconds);
// Whether the AVX512-VNNI int8 kernel runs its unpacked-row products on AMX tiles (the CPU has
// AMX-INT8 and the OS granted the tile state, and not switched off); set >= 0 switches it first.
bool int8_amx(int set = -1);
// Single-thread bf16 dot-product throughput (GFLOP/s) of the best ISA whose bf16 kernel runs here
// and that has a probe (AVX512-BF16: vdpbf16ps); < 0 when none has.
double best_bf16_peak(double seconds);
// Single-thread AMX tile throughput (bf16 GFLOP/s or int8 GOP/s) where the CPU has AMX-BF16 /
// AMX-INT8 and the OS grants the tiles (whether or not the kernels are switched to them); < 0 elsewhere.
double amx_peak(bool int8, double seconds);
// The bf16 kernel of the best ISA <= cap that this CPU runs (generic always qualifies): the row's
// first whose own check passes.
const BUkernel& select_bukernel(Isa cap);
// The row's first bf16 kernel that this CPU runs (nullptr: none; the row's own check not included).
const BUkernel* runnable_bukernel(const IsaBuild& b);
// Whether the bf16 engine's AMX kernel runs where the CPU has AMX-BF16 and the OS granted the tile
// state; set >= 0 switches it first (off: the AVX512-BF16 kernel).
bool bf16_amx(int set = -1);
// The QAdd helper of the best ISA <= cap that this CPU runs and that has one, and that ISA; nullptr
// (and *isa = generic) where none has: the caller runs its portable loop.
qadd_fn select_qadd(Isa cap, Isa* isa);

}  // namespace kernels
