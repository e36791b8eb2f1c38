// RVV 1.0 vector traits at LMUL = 2 (fp32 and fp64) for rvv_ukernel.hpp; only rvv TUs include this.
// Vector-length agnostic: no width is fixed here, every operation takes the vector length vl, and
// the full length (the micro-tile's MR) is read from the hardware with vsetvlmax.
// LMUL = 2 because the 32 vector registers then form 16 groups: 8 accumulators (NR = 8) + 1 group
// for the A column + room for the compiler to load the next one early, with no spills. LMUL = 4
// would leave 8 groups, all taken by 8 accumulators (NR = 6 would fit, but MR doubles: 2048 floats
// per tile at EPI's VLEN 16384, more rows than any cache block holds).
#pragma once

#include <riscv_vector.h>

#include <cstddef>
#include <type_traits>

#include "../../core/common.hpp"

namespace kernels {
namespace {

struct RvvF32 {
    using T = float;
    using R = vfloat32m2_t;
    using M = vbool16_t;  // mask of an m2 group of 32-bit lanes
    static KERNELS_INLINE std::size_t vlmax() { return __riscv_vsetvlmax_e32m2(); }
    static KERNELS_INLINE std::size_t setvl(std::size_t n) { return __riscv_vsetvl_e32m2(n); }
    static KERNELS_INLINE R set1(T x, std::size_t vl) { return __riscv_vfmv_v_f_f32m2(x, vl); }
    static KERNELS_INLINE R load(const T* p, std::size_t vl) { return __riscv_vle32_v_f32m2(p, vl); }
    // Lanes >= vl keep `old` (tail undisturbed): packs zero-padded edge panels in one store.
    static KERNELS_INLINE R load_tu(R old, const T* p, std::size_t vl) { return __riscv_vle32_v_f32m2_tu(old, p, vl); }
    static KERNELS_INLINE R load_strided_tu(R old, const T* p, inc_t inc, std::size_t vl) {
        return __riscv_vlse32_v_f32m2_tu(old, p, static_cast<std::ptrdiff_t>(inc * sizeof(T)), vl);
    }
    static KERNELS_INLINE R load_strided(const T* p, inc_t inc, std::size_t vl) {
        return __riscv_vlse32_v_f32m2(p, static_cast<std::ptrdiff_t>(inc * sizeof(T)), vl);
    }
    static KERNELS_INLINE void store(T* p, R v, std::size_t vl) { __riscv_vse32_v_f32m2(p, v, vl); }
    static KERNELS_INLINE void store_strided(T* p, inc_t inc, R v, std::size_t vl) {
        __riscv_vsse32_v_f32m2(p, static_cast<std::ptrdiff_t>(inc * sizeof(T)), v, vl);
    }
    static KERNELS_INLINE R fmacc(R acc, T x, R v, std::size_t vl) { return __riscv_vfmacc_vf_f32m2(acc, x, v, vl); }
    static KERNELS_INLINE R fmacc(R acc, R w, R v, std::size_t vl) { return __riscv_vfmacc_vv_f32m2(acc, w, v, vl); }
    static KERNELS_INLINE R mul(R v, T x, std::size_t vl) { return __riscv_vfmul_vf_f32m2(v, x, vl); }
    static KERNELS_INLINE R mul(R v, R w, std::size_t vl) { return __riscv_vfmul_vv_f32m2(v, w, vl); }
    static KERNELS_INLINE R add(R v, T x, std::size_t vl) { return __riscv_vfadd_vf_f32m2(v, x, vl); }
    static KERNELS_INLINE R add(R v, R w, std::size_t vl) { return __riscv_vfadd_vv_f32m2(v, w, vl); }
    static KERNELS_INLINE M lt(R v, T x, std::size_t vl) { return __riscv_vmflt_vf_f32m2_b16(v, x, vl); }
    static KERNELS_INLINE M gt(R v, T x, std::size_t vl) { return __riscv_vmfgt_vf_f32m2_b16(v, x, vl); }
    // Lanes where `m` is set take x, the others keep v.
    static KERNELS_INLINE R merge(R v, T x, M m, std::size_t vl) { return __riscv_vfmerge_vfm_f32m2(v, x, m, vl); }
};

struct RvvF64 {
    using T = double;
    using R = vfloat64m2_t;
    using M = vbool32_t;  // mask of an m2 group of 64-bit lanes
    static KERNELS_INLINE std::size_t vlmax() { return __riscv_vsetvlmax_e64m2(); }
    static KERNELS_INLINE std::size_t setvl(std::size_t n) { return __riscv_vsetvl_e64m2(n); }
    static KERNELS_INLINE R set1(T x, std::size_t vl) { return __riscv_vfmv_v_f_f64m2(x, vl); }
    static KERNELS_INLINE R load(const T* p, std::size_t vl) { return __riscv_vle64_v_f64m2(p, vl); }
    static KERNELS_INLINE R load_tu(R old, const T* p, std::size_t vl) { return __riscv_vle64_v_f64m2_tu(old, p, vl); }
    static KERNELS_INLINE R load_strided_tu(R old, const T* p, inc_t inc, std::size_t vl) {
        return __riscv_vlse64_v_f64m2_tu(old, p, static_cast<std::ptrdiff_t>(inc * sizeof(T)), vl);
    }
    static KERNELS_INLINE R load_strided(const T* p, inc_t inc, std::size_t vl) {
        return __riscv_vlse64_v_f64m2(p, static_cast<std::ptrdiff_t>(inc * sizeof(T)), vl);
    }
    static KERNELS_INLINE void store(T* p, R v, std::size_t vl) { __riscv_vse64_v_f64m2(p, v, vl); }
    static KERNELS_INLINE void store_strided(T* p, inc_t inc, R v, std::size_t vl) {
        __riscv_vsse64_v_f64m2(p, static_cast<std::ptrdiff_t>(inc * sizeof(T)), v, vl);
    }
    static KERNELS_INLINE R fmacc(R acc, T x, R v, std::size_t vl) { return __riscv_vfmacc_vf_f64m2(acc, x, v, vl); }
    static KERNELS_INLINE R fmacc(R acc, R w, R v, std::size_t vl) { return __riscv_vfmacc_vv_f64m2(acc, w, v, vl); }
    static KERNELS_INLINE R mul(R v, T x, std::size_t vl) { return __riscv_vfmul_vf_f64m2(v, x, vl); }
    static KERNELS_INLINE R mul(R v, R w, std::size_t vl) { return __riscv_vfmul_vv_f64m2(v, w, vl); }
    static KERNELS_INLINE R add(R v, T x, std::size_t vl) { return __riscv_vfadd_vf_f64m2(v, x, vl); }
    static KERNELS_INLINE R add(R v, R w, std::size_t vl) { return __riscv_vfadd_vv_f64m2(v, w, vl); }
    static KERNELS_INLINE M lt(R v, T x, std::size_t vl) { return __riscv_vmflt_vf_f64m2_b32(v, x, vl); }
    static KERNELS_INLINE M gt(R v, T x, std::size_t vl) { return __riscv_vmfgt_vf_f64m2_b32(v, x, vl); }
    static KERNELS_INLINE R merge(R v, T x, M m, std::size_t vl) { return __riscv_vfmerge_vfm_f64m2(v, x, m, vl); }
};

// The traits of element type T (the convolution helpers are templates on T, as their table types are).
template <typename T>
using RvvVec = std::conditional_t<sizeof(T) == sizeof(float), RvvF32, RvvF64>;

}  // namespace
}  // namespace kernels
