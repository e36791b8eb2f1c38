// What arch/avx512/ registers in the ISA table (table.cpp). Declarations only, so portable code may
// include this; the definitions are compiled with the AVX-512 flags and run only where the table's
// CPU check for AVX-512 passed.
#pragma once

#include "../table.hpp"

namespace kernels {

extern const Ukernel<float> ukr_f32_avx512_64x6, ukr_f32_avx512_32x12;
extern const Ukernel<double> ukr_f64_avx512_32x6, ukr_f64_avx512_16x12;
extern const QUkernel ukr_s8_avx512vnni_32x12;
extern const QUkernel ukr_s8_amx_32x32;  // its wide_rows variant (AMX, 32 pixels x 32 channels)
// The VNNI kernel's unpacked-row products on AMX tiles where the CPU and OS allow them
// (ukr_s8_avx512vnni_32x12.cpp); set_int8_amx(false) keeps them on vpdpbusd (returns the old value).
bool int8_amx_available();
bool set_int8_amx(bool on);
bool int8_amx_enabled();
extern const BUkernel ukr_bf16_avx512bf16_32x12;
// bf16 on AMX tiles (ukr_bf16_amx_32x32.cpp), preferred where its check passes: the CPU has
// AMX-BF16, the OS grants the tile state, and set_bf16_amx(false) was not called (returns the old value).
extern const BUkernel ukr_bf16_amx_32x32;
bool bf16_amx_available();
bool set_bf16_amx(bool on);

// The helpers, each instantiated for float and double in its own file; their contracts are the
// function types of table.hpp.
namespace avx512 {
template <typename T>  // row_gather_fn (gather_row.cpp)
void gather_row(T* d, const T* row, dim_t first, dim_t step, dim_t len, dim_t size);
template <typename T>  // weight_pack_fn (weight_pack.cpp)
void pack_weight_chunk(const T* w, const ConvGeom& g, dim_t mr, dim_t i0, dim_t mc, dim_t c0, dim_t kc, T* dst);
template <typename T>  // depthwise_pick_fn (depthwise_row.cpp)
depthwise_row_fn<T> depthwise_row(const ConvGeom& g);
double fma_peak(bool f64, double seconds);  // fma_peak_fn (fma_peak.cpp)
double int8_peak(double seconds);  // vpdpbusd throughput, GOP/s (int8_peak.cpp)
double bf16_peak(double seconds);  // vdpbf16ps throughput, GFLOP/s (ukr_bf16_avx512bf16_32x12.cpp)
// qpack_a_fn of both int8 kernels (MR = 32): rows interleaved in ymm registers (qpack_a32.cpp).
void qpack_a32(dim_t mc, dim_t kc, const std::int8_t* a, inc_t rs, inc_t cs, std::uint8_t flip, std::int8_t* dst);
// bpack_b_fn of the vdpbf16ps kernel (NR = 12): 4x4 word transposes (bpack_b_pairs12.cpp).
void bpack_b_pairs12(dim_t kc, dim_t nc, const std::uint16_t* b, inc_t rs, inc_t cs, void* dst);
void qadd(const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out, dim_t n, bool is_signed, float ra, float rb,
          float k);  // qadd_fn (qadd.cpp)
}  // namespace avx512

}  // namespace kernels
