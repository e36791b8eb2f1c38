// One 64-byte vector of T for the KERNELS_CLONES loops (arch/clones.hpp), as a GCC vector extension.
//
// Compiled per clone target, it is one zmm register in the avx512f clone and two ymm or four xmm in
// the others. Loops that keep a block of results across a long reduction (Winograd's 4x4 patch, the
// GEMV accumulators) use it because GCC keeps named vectors of this type in registers, where the
// same code on local arrays of T was spilled to the stack (read in the disassembly).
#pragma once

#include "../core/common.hpp"

// These vectors never cross a non-inlined call boundary: GCC's note that their ABI depends on
// AVX-512 being enabled does not apply (silenced for the files that include this header).
#pragma GCC diagnostic ignored "-Wpsabi"

namespace kernels {

template <typename T>
struct CloneVec {
    typedef T type __attribute__((vector_size(64)));
    static constexpr dim_t lanes = 64 / sizeof(T);
    static KERNELS_INLINE type load(const T* p) {
        type v;
        __builtin_memcpy(&v, p, sizeof(v));
        return v;
    }
    static KERNELS_INLINE void store(T* p, type v) { __builtin_memcpy(p, &v, sizeof(v)); }
    static KERNELS_INLINE type splat(T x) { return type{} + x; }
    static KERNELS_INLINE T sum(type v) {
        T s = T(0);
        for (dim_t l = 0; l < lanes; ++l) s += v[l];
        return s;
    }
};

}  // namespace kernels
