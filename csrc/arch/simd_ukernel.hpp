// Register-blocked micro-kernel shared by the x86 SIMD ISAs, parameterised by a vector-traits type.
//
// Shape: MR = MV vectors along the contiguous dimension of C, NR broadcast columns. Each k step
// loads MV vectors of the A micro-panel, broadcasts NR elements of B, and issues MV*NR independent
// FMAs into MV*NR accumulator registers; those independent chains hide the FMA latency
// (4 cycles x 2 FMA ports needs >= 8 chains; 24 are in flight for the AVX-512 shapes).
#pragma once

#include <algorithm>
#include <type_traits>

#include "../core/common.hpp"
#include "tile_store.hpp"

namespace kernels {
namespace {

// No epilogue: the value goes to C as computed.
struct NoEpilogue {
    template <class R>
    KERNELS_INLINE R operator()(R v, int, int) const { return v; }
};

// The per-channel epilogue on vectors: v := act(fma(v, scale, shift) + residual). Channels along
// the rows of the tile are loaded as vectors (masked past m), along its columns broadcast per
// column. kRes is a template argument so that the residual's test is hoisted out of the tile's
// loops: without a residual the store compiles to what it was before the residual existed. The
// residual is read with the same (masked) vector loads as C, at unit stride along the rows
// (store_acc sends any other residual stride to the scalar path).
// max/min take v as the second operand, which x86 returns when either input is NaN: NaN stays NaN.
template <class V, bool kRes>
struct VecEpilogue {
    using T = typename V::T;
    using R = typename V::R;
    const Epilogue<T>& e;
    dim_t m;
    KERNELS_INLINE R operator()(R v, int i, int j) const {
        if (e.scale || e.shift) {
            R s, t;
            if (e.along_rows) {
                s = e.scale ? V::load_c(e.scale + i * V::W, m - i * V::W) : V::set1(T(1));
                t = e.shift ? V::load_c(e.shift + i * V::W, m - i * V::W) : V::zero();
            } else {
                s = V::set1(e.scale ? e.scale[j] : T(1));
                t = V::set1(e.shift ? e.shift[j] : T(0));
            }
            v = V::fma(v, s, t);
        }
        if constexpr (kRes) v = V::add(v, V::load_c(e.res + j * e.cs_r + i * V::W, m - i * V::W));
        if (e.act != Act::none) v = V::max(V::zero(), v);
        if (e.act == Act::relu6) v = V::min(V::set1(T(6)), v);
        return v;
    }
};

// Vector write-back of a tile whose columns are contiguous in C (rs_c == 1): C := finish(beta*C +
// alpha*acc), masked along m on the last row block and stopping at column n on the last column block.
template <class V, int MV, int NR, class F>
KERNELS_INLINE void store_columns(typename V::R (&acc)[NR][MV], typename V::T alpha, typename V::T beta,
                                  typename V::T* c, inc_t cs_c, dim_t m, dim_t n, const F& finish) {
    using T = typename V::T;
    using R = typename V::R;
    constexpr int W = V::W;
    const R va = V::set1(alpha);
    if (beta == T(0)) {  // C is not read
#pragma GCC unroll 16
        for (int j = 0; j < NR; ++j)
#pragma GCC unroll 4
            for (int i = 0; i < MV; ++i)
                if (j < n) V::store(c + j * cs_c + i * W, finish(V::mul(va, acc[j][i]), i, j), m - i * W);
    } else {
        const R vb = V::set1(beta);
#pragma GCC unroll 16
        for (int j = 0; j < NR; ++j)
#pragma GCC unroll 4
            for (int i = 0; i < MV; ++i) {
                if (j >= n) continue;
                T* cp = c + j * cs_c + i * W;
                const R old = V::load_c(cp, m - i * W);
                V::store(cp, finish(V::fma(vb, old, V::mul(va, acc[j][i])), i, j), m - i * W);
            }
    }
}

// Write-back shared by the packed and direct kernels: C := ep(beta*C + alpha*acc) on the m x n tile.
// The residual may be C itself: each vector of it is loaded before the store of that vector.
template <class V, int MV, int NR>
KERNELS_INLINE void store_acc(typename V::R (&acc)[NR][MV], typename V::T alpha, typename V::T beta,
                              typename V::T* c, inc_t rs_c, inc_t cs_c, dim_t m, dim_t n,
                              const Epilogue<typename V::T>* ep) {
    using T = typename V::T;
    constexpr int W = V::W;
    constexpr int MR = MV * W;
    if (rs_c == 1 && ((m == MR && n == NR) || V::kMasked) && (!ep || !ep->res || ep->rs_r == 1)) {
        if (!ep) store_columns<V, MV, NR>(acc, alpha, beta, c, cs_c, m, n, NoEpilogue{});
        else if (ep->res) store_columns<V, MV, NR>(acc, alpha, beta, c, cs_c, m, n, VecEpilogue<V, true>{*ep, m});
        else store_columns<V, MV, NR>(acc, alpha, beta, c, cs_c, m, n, VecEpilogue<V, false>{*ep, m});
        return;
    }
    // Edge tile without masks (AVX2, portable), strided C, or a residual strided along the tile's
    // vectors (a view other than C's layout): scalar write-back.
    alignas(kAlign) T tile[NR * MR];
    const typename V::R va = V::set1(alpha);
#pragma GCC unroll 16
    for (int j = 0; j < NR; ++j)
#pragma GCC unroll 4
        for (int i = 0; i < MV; ++i) V::store_aligned(tile + j * MR + i * W, V::mul(va, acc[j][i]));
    store_tile<T, MR>(tile, beta, c, rs_c, cs_c, m, n, ep);
}

template <class V, int MR, int NR>
KERNELS_INLINE void prefetch_c(typename V::T* c, inc_t rs_c, inc_t cs_c) {
    // Warm the C tile while the k loop runs; it is needed only at the end. (Software prefetch of
    // the A panel ahead, at 8-32 k steps, measured 2-8% slower: the hardware streams it better.)
    if (rs_c == 1)
#pragma GCC unroll 16
        for (int j = 0; j < NR; ++j) {
            __builtin_prefetch(c + j * cs_c, 1);
            __builtin_prefetch(c + j * cs_c + MR - 1, 1);
        }
}

// acc := 0.
template <class V, int MV, int NR>
KERNELS_INLINE void zero_acc(typename V::R (&acc)[NR][MV]) {
#pragma GCC unroll 16
    for (int j = 0; j < NR; ++j)
#pragma GCC unroll 4
        for (int i = 0; i < MV; ++i) acc[j][i] = V::zero();
}

// One k step against a packed A micro-panel: acc[j] += a[0:MV vectors] * B(j), where b_at(j)
// points at B(j), the element broadcast for column j (packed panel or image, as the caller says).
template <class V, int MV, int NR, class BAt>
KERNELS_INLINE void rank1_packed_a(typename V::R (&acc)[NR][MV], const typename V::T* a, const BAt& b_at) {
    using R = typename V::R;
    R av[MV];
#pragma GCC unroll 4
    for (int i = 0; i < MV; ++i) av[i] = V::load(a + i * V::W);
#pragma GCC unroll 16
    for (int j = 0; j < NR; ++j) {
        const R bj = V::bcast(b_at(j));
#pragma GCC unroll 4
        for (int i = 0; i < MV; ++i) acc[j][i] = V::fma(av[i], bj, acc[j][i]);
    }
}

// Packed operands: A micro-panel (AS elements per k, aligned), B micro-panel (BS per k).
// AS > MV*W makes the half-height edge kernel: it reads the first MV vectors of a taller panel,
// so the last rows of a block (m <= MR/2) cost half the FMAs of a full tile. BS > NR makes the
// narrow one: the first NR columns of a wider panel, for the last columns of a block.
template <class V, int MV, int NR, int AS = MV * V::W, int BS = NR>
void simd_ukr(dim_t k, typename V::T alpha, const typename V::T* KERNELS_RESTRICT a,
              const typename V::T* KERNELS_RESTRICT b, typename V::T beta, typename V::T* c,
              inc_t rs_c, inc_t cs_c, dim_t m, dim_t n, const Epilogue<typename V::T>* ep) {
    using R = typename V::R;
    constexpr int W = V::W;
    constexpr int MR = MV * W;
    prefetch_c<V, MR, NR>(c, rs_c, cs_c);

    R acc[NR][MV];
    zero_acc<V, MV, NR>(acc);
#pragma GCC unroll 4
    for (dim_t p = 0; p < k; ++p) {
        rank1_packed_a<V, MV, NR>(acc, a, [b](int j) { return b + j; });
        a += AS;
        b += BS;
    }
    store_acc<V, MV, NR>(acc, alpha, beta, c, rs_c, cs_c, m, n, ep);
}

// Unpacked operands, for small problems where packing would cost as much as the product:
// A(i, p) at a[i + p*lda] (unit stride along i; rows past m are masked off, never read),
// B(p, j) at b[p*rs_b + j*cs_b] (columns past n re-read column n-1 and are never stored).
template <class V, int MV, int NR>
void simd_ukr_direct(dim_t k, typename V::T alpha, const typename V::T* a, inc_t lda,
                     const typename V::T* b, inc_t rs_b, inc_t cs_b, typename V::T beta,
                     typename V::T* c, inc_t rs_c, inc_t cs_c, dim_t m, dim_t n,
                     const Epilogue<typename V::T>* ep) {
    static_assert(V::kMasked, "the direct kernel needs masked loads for m < MR");
    using R = typename V::R;
    using T = typename V::T;
    constexpr int W = V::W;
    constexpr int MR = MV * W;
    prefetch_c<V, MR, NR>(c, rs_c, cs_c);

    const T* bj[NR];
#pragma GCC unroll 16
    for (int j = 0; j < NR; ++j) bj[j] = b + (j < n ? j : n - 1) * cs_b;

    R acc[NR][MV];
    zero_acc<V, MV, NR>(acc);

    // One k loop, instantiated twice: full tiles load A unmasked, the last row block masked.
    auto k_loop = [&](auto full) {
#pragma GCC unroll 2
        for (dim_t p = 0; p < k; ++p) {
            R av[MV];
#pragma GCC unroll 4
            for (int i = 0; i < MV; ++i) {
                const T* ap = a + p * lda + i * W;
                if constexpr (decltype(full)::value) av[i] = V::loadu(ap);
                else av[i] = V::load_c(ap, m - i * W);
            }
            const inc_t off = p * rs_b;
#pragma GCC unroll 16
            for (int j = 0; j < NR; ++j) {
                const R bv = V::bcast(bj[j] + off);
#pragma GCC unroll 4
                for (int i = 0; i < MV; ++i) acc[j][i] = V::fma(av[i], bv, acc[j][i]);
            }
        }
    };
    if (m == MR) k_loop(std::true_type{});
    else k_loop(std::false_type{});
    store_acc<V, MV, NR>(acc, alpha, beta, c, rs_c, cs_c, m, n, ep);
}

// Batch-reduce kernel of direct convolution (see taps_fn): the packed-A k loop of simd_ukr, run
// once per tap with B broadcast straight from the image through NR column pointers. B needs no
// packing because each element is broadcast: only A (the weights) must be vector-friendly.
// AS > MV*W makes the half-height variant, as for simd_ukr.
// The prefetch (pf): every `seg` k steps (at least 4) a few prefetcht1, spread out so that the
// lines in flight at a time leave the line-fill buffers to the A panel's own L2 reads (a burst of
// hundreds would stall the loads behind it). The prefetch sits between plain k loops of `seg`
// steps, so the FMA loop is the one without prefetch (a test per k step spilled registers and
// cost 6% on L2-resident weights).
template <class V, int MV, int NR, int AS = MV * V::W, int BS = NR>
void simd_ukr_taps(dim_t ntaps, dim_t kc, const typename V::T* a, const dim_t* a_off,
                   const typename V::T* const* b, inc_t rs_b, typename V::T beta, typename V::T* c,
                   inc_t rs_c, inc_t cs_c, dim_t m, dim_t n, const Epilogue<typename V::T>* ep, L2Prefetch pf) {
    using R = typename V::R;
    using T = typename V::T;
    constexpr int W = V::W;
    constexpr int MR = MV * W;
    prefetch_c<V, MR, NR>(c, rs_c, cs_c);

    R acc[NR][MV];
    zero_acc<V, MV, NR>(acc);
    const dim_t steps = ntaps * kc;
    const char* pf_at = pf.at;
    const char* const pf_end = pf.at + 64 * pf.lines;
    const bool warm = pf.lines > 0 && kc >= 4;
    const dim_t seg = warm ? std::clamp<dim_t>(steps / pf.lines, 4, kc) : kc;  // k steps per burst
    const dim_t burst = warm ? ceil_div(pf.lines * seg, steps) : 0;              // lines per burst
    // Instantiated for unit-stride channels (NHWC: the k index scales into the address) and any
    // stride.
    auto taps_loop = [&](auto unit) {
        for (dim_t t = 0; t < ntaps; ++t) {
            const T* ap = a + a_off[t];
            const T* bj[NR];
#pragma GCC unroll 16
            for (int j = 0; j < NR; ++j) bj[j] = b[t * BS + j];
            for (dim_t p0 = 0; p0 < kc; p0 += seg) {
                for (dim_t l = 0; l < burst && pf_at < pf_end; ++l, pf_at += 64) __builtin_prefetch(pf_at, 0, 2);
                const dim_t p1 = std::min(kc, p0 + seg);
#pragma GCC unroll 4
                for (dim_t p = p0; p < p1; ++p, ap += AS) {
                    const inc_t off = decltype(unit)::value ? p : p * rs_b;
                    rank1_packed_a<V, MV, NR>(acc, ap, [&bj, off](int j) { return bj[j] + off; });
                }
            }
        }
    };
    if (rs_b == 1) taps_loop(std::true_type{});
    else taps_loop(std::false_type{});
    store_acc<V, MV, NR>(acc, T(1), beta, c, rs_c, cs_c, m, n, ep);
}

}  // namespace
}  // namespace kernels
