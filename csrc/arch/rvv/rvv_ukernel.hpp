// RVV micro-kernels (packed, unpacked and batch-reduce) and the A packer, vector-length agnostic: the tile is
// MR x NR with MR = one LMUL = 2 register group (LMUL * VLEN / SEW lanes, read at run time) and
// NR = 8 columns of broadcast B values (vfmacc.vf takes B straight from a scalar register).
#pragma once

#include <algorithm>
#include <cstddef>

#include "../../core/common.hpp"
#include "../../core/epilogue.hpp"
#include "vec.hpp"

namespace kernels {
namespace {

constexpr int kRvvNr = 8;

// RVV vector types are sizeless: no arrays of them, so the 8 accumulators are named c0..c7 and
// every per-column statement is spelled once and expanded per column by this macro.
#define KERNELS_RVV_COLUMNS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

// The per-channel epilogue (core/epilogue.hpp, Epilogue::apply) on column j's first vl rows:
// v*scale, +shift, +residual, then the activation by compare and merge, not vfmax/vfmin, which return the
// other operand for a NaN: NaN must stay NaN, as in the scalar form.
template <class V>
KERNELS_INLINE typename V::R rvv_epilogue(typename V::R v, const Epilogue<typename V::T>& ep, dim_t j,
                                          std::size_t vl) {
    using T = typename V::T;
    if (ep.along_rows) {  // channel = row: a vector of scales and shifts
        if (ep.scale) v = V::mul(v, V::load(ep.scale, vl), vl);
        if (ep.shift) v = V::add(v, V::load(ep.shift, vl), vl);
    } else {  // channel = column j: one scalar for the column
        if (ep.scale) v = V::mul(v, ep.scale[j], vl);
        if (ep.shift) v = V::add(v, ep.shift[j], vl);
    }
    if (ep.res) {  // column j of the residual: unit stride along the rows, or any other stride
        const T* rj = ep.res + j * ep.cs_r;
        v = V::add(v, ep.rs_r == 1 ? V::load(rj, vl) : V::load_strided(rj, ep.rs_r, vl), vl);
    }
    if (ep.act != Act::none) v = V::merge(v, T(0), V::lt(v, T(0), vl), vl);
    if (ep.act == Act::relu6) v = V::merge(v, T(6), V::gt(v, T(6), vl), vl);
    return v;
}

// Column j of C (its first vl rows) := beta*C + alpha*acc, then the epilogue. beta == 0 never
// loads C. Rows are unit stride (vle/vse) or any other stride, negative included (vlse/vsse).
template <class V>
KERNELS_INLINE void rvv_store_col(typename V::R acc, dim_t j, typename V::T alpha, typename V::T beta,
                                  typename V::T* c, inc_t rs_c, inc_t cs_c, std::size_t vl,
                                  const Epilogue<typename V::T>* ep) {
    using T = typename V::T;
    T* cj = c + j * cs_c;
    typename V::R v = V::mul(acc, alpha, vl);
    if (beta != T(0)) v = V::fmacc(v, beta, rs_c == 1 ? V::load(cj, vl) : V::load_strided(cj, rs_c, vl), vl);
    if (ep) v = rvv_epilogue<V>(v, *ep, j, vl);
    if (rs_c == 1) V::store(cj, v, vl);
    else V::store_strided(cj, rs_c, v, vl);
}

// The tile's write-back: rows past m never exist (vl = m; no scalar edge path), columns past n skipped.
#define KERNELS_RVV_STORE(j) \
    if (j < n) rvv_store_col<V>(c##j, j, alpha, beta, c, rs_c, cs_c, vl, ep);

// ukr_fn (arch/ukernel.hpp): A micro-panels of MR = vlmax rows, B micro-panels of 8 columns.
template <class V>
void rvv_ukr(dim_t k, typename V::T alpha, const typename V::T* KERNELS_RESTRICT a,
             const typename V::T* KERNELS_RESTRICT b, typename V::T beta, typename V::T* c, inc_t rs_c,
             inc_t cs_c, dim_t m, dim_t n, const Epilogue<typename V::T>* ep) {
    using T = typename V::T;
    using R = typename V::R;
    // The panel's stride is MR; the work is vl = m rows (vl = AVL for AVL <= VLMAX): a short edge
    // tile costs its own rows, which is what a half-height variant buys on fixed-width ISAs.
    const std::size_t mr = V::vlmax(), vl = V::setvl(static_cast<std::size_t>(m));
#define KERNELS_RVV_ZERO(j) R c##j = V::set1(T(0), vl);
    KERNELS_RVV_COLUMNS(KERNELS_RVV_ZERO)
    // Per k step: one vector load of A, 8 scalar loads of B, 8 vfmacc.vf.
    for (dim_t p = 0; p < k; ++p) {
        const R av = V::load(a, vl);
#define KERNELS_RVV_FMA(j) c##j = V::fmacc(c##j, b[j], av, vl);
        KERNELS_RVV_COLUMNS(KERNELS_RVV_FMA)
        a += mr;
        b += kRvvNr;
    }
    KERNELS_RVV_COLUMNS(KERNELS_RVV_STORE)
}

// taps_fn (arch/ukernel.hpp): C := ep(beta*C + sum_t A_t * B_t), B read in place and broadcast.
template <class V>
void rvv_ukr_taps(dim_t ntaps, dim_t kc, const typename V::T* a, const dim_t* a_off,
                  const typename V::T* const* b, inc_t rs_b, typename V::T beta, typename V::T* c, inc_t rs_c,
                  inc_t cs_c, dim_t m, dim_t n, const Epilogue<typename V::T>* ep, L2Prefetch) {
    using T = typename V::T;
    using R = typename V::R;
    const std::size_t mr = V::vlmax(), vl = V::setvl(static_cast<std::size_t>(m));
    const T alpha = T(1);
    KERNELS_RVV_COLUMNS(KERNELS_RVV_ZERO)
    for (dim_t t = 0; t < ntaps; ++t) {
        const T* ap = a + a_off[t];
        const T* const* bt = b + t * kRvvNr;
#define KERNELS_RVV_BROW(j) const T* b##j = bt[j];
        KERNELS_RVV_COLUMNS(KERNELS_RVV_BROW)
        for (dim_t p = 0; p < kc; ++p, ap += mr) {
            const R av = V::load(ap, vl);
            const dim_t q = p * rs_b;
#define KERNELS_RVV_TAP_FMA(j) c##j = V::fmacc(c##j, b##j[q], av, vl);
            KERNELS_RVV_COLUMNS(KERNELS_RVV_TAP_FMA)
        }
    }
    KERNELS_RVV_COLUMNS(KERNELS_RVV_STORE)
}

// direct_fn (arch/ukernel.hpp): the packed kernel's loop on the caller's arrays, unpacked: A(i, p)
// at a[i + p*lda] (unit stride along the rows: one vle per k step at vl = m, as the packed panel),
// B(p, j) at b[p*rs_b + j*cs_b] broadcast from scalar registers. Columns past n read column n - 1
// (memory the caller owns) into accumulators that are never stored, so no column is tested in the
// loop. The same instructions per k step as the packed kernel, plus the strides' address arithmetic.
template <class V>
void rvv_direct(dim_t k, typename V::T alpha, const typename V::T* a, inc_t lda, const typename V::T* b,
                inc_t rs_b, inc_t cs_b, typename V::T beta, typename V::T* c, inc_t rs_c, inc_t cs_c, dim_t m,
                dim_t n, const Epilogue<typename V::T>* ep) {
    using T = typename V::T;
    using R = typename V::R;
    const std::size_t vl = V::setvl(static_cast<std::size_t>(m));
    KERNELS_RVV_COLUMNS(KERNELS_RVV_ZERO)
#define KERNELS_RVV_BCOL(j) const T* b##j = b + std::min<dim_t>(j, n - 1) * cs_b;
    KERNELS_RVV_COLUMNS(KERNELS_RVV_BCOL)
    for (dim_t p = 0; p < k; ++p, a += lda) {
        const R av = V::load(a, vl);
        const dim_t q = p * rs_b;
        KERNELS_RVV_COLUMNS(KERNELS_RVV_TAP_FMA)
    }
    KERNELS_RVV_COLUMNS(KERNELS_RVV_STORE)
}

// pack_a_fn: mc x kc of A (element (i, p) at a[i*rs + p*cs]) into MR-row micro-panels, MR read at
// run time as in the kernel. A short last panel is loaded with vl = its rows into a zero vector
// (tail undisturbed) and stored whole, so its padding rows are zeros. Unit-stride rows load
// contiguously, any other stride (a transposed A included) by a strided load.
template <class V>
void rvv_pack_a(dim_t mc, dim_t kc, const typename V::T* a, inc_t rs, inc_t cs, typename V::T* dst) {
    using T = typename V::T;
    const std::size_t mr = V::vlmax();
    const typename V::R zero = V::set1(T(0), mr);
    for (dim_t i = 0; i < mc; i += static_cast<dim_t>(mr)) {
        const std::size_t w = std::min<std::size_t>(mr, static_cast<std::size_t>(mc - i));
        const T* src = a + i * rs;
        for (dim_t p = 0; p < kc; ++p, dst += mr) {
            const T* s = src + p * cs;
            V::store(dst, rs == 1 ? V::load_tu(zero, s, w) : V::load_strided_tu(zero, s, rs, w), mr);
        }
    }
}

#undef KERNELS_RVV_ZERO
#undef KERNELS_RVV_FMA
#undef KERNELS_RVV_BROW
#undef KERNELS_RVV_TAP_FMA
#undef KERNELS_RVV_BCOL
#undef KERNELS_RVV_STORE
#undef KERNELS_RVV_COLUMNS

}  // namespace
}  // namespace kernels
