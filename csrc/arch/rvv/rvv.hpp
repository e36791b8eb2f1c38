// What arch/rvv/ (RISC-V vector 1.0, vector-length agnostic) registers in the ISA table
// (table.cpp). Declarations only, so portable code may include this; the definitions are compiled
// with -march=rv64gcv and run only where the table's CPU check for rvv passed.
#pragma once

#include <cstddef>

#include "../table.hpp"

namespace kernels {

// Not const: their MR depends on the machine's VLEN, which only the CPU check may read (reading it
// is a vector instruction). Until then they hold MR for VLEN = 128, the least RVV 1.0's V allows;
// table.cpp's runs_rvv sets the real one once, before any kernel of the row can be selected.
extern Ukernel<float> ukr_f32_rvv_m2x8;
extern Ukernel<double> ukr_f64_rvv_m2x8;

namespace rvv {
// VLEN in bytes (csrr vlenb). Only a vector instruction: SIGILL on a core or OS without V, which is
// how table.cpp probes for V when AT_HWCAP does not say.
std::size_t vlenb();
// MR of the LMUL = 2 kernels for a given vlenb: 2 * VLEN / SEW.
constexpr dim_t mr_f32(std::size_t vlenb) { return static_cast<dim_t>(2 * vlenb / sizeof(float)); }
constexpr dim_t mr_f64(std::size_t vlenb) { return static_cast<dim_t>(2 * vlenb / sizeof(double)); }

// The convolution helpers, each instantiated for float and double in its own file; their contracts
// are the function types of table.hpp, their portable forms the loops they replace.
template <typename T>  // row_gather_fn (gather_row.cpp)
void gather_row(T* d, const T* row, dim_t first, dim_t step, dim_t len, dim_t size);
template <typename T>  // weight_pack_fn (weight_pack.cpp)
void pack_weight_chunk(const T* w, const ConvGeom& g, dim_t mr, dim_t i0, dim_t mc, dim_t c0, dim_t kc, T* dst);
template <typename T>  // depthwise_pick_fn (depthwise_row.cpp)
depthwise_row_fn<T> depthwise_row(const ConvGeom& g);
}  // namespace rvv

}  // namespace kernels
