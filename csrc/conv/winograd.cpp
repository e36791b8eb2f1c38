// Winograd F(2x2, 3x3) convolution (Lavin and Gray, 2016) on the batch-reduce micro-kernels.
//
// For a 2x2 output tile and its 4x4 input patch d, per input channel c and output channel k:
//     y = A^T [ sum_c (G w_kc G^T) .* (B^T d_c B) ] A
// so the 36 products of direct convolution per tile and (c, k) become 16 elementwise products,
// which over all channels are 16 independent GEMMs: M_e (K x tiles) = U_e (K x C) * V_e (C x tiles),
// e = 0..15, U_e = (G w G^T)_e (the weights, transformed once per plan) and V_e = (B^T d B)_e.
//
// Why F(2x2, 3x3) and not F(4x4, 3x3) (4x fewer FMAs, oneDNN's default): its transforms hold only
// 0, +-1 and 1/2, so the result's rounding error stays within a small constant of direct
// convolution's (checked against the same K-scaled bound as every algorithm, tests/api); F(4x4)'s
// 1/4, 1/6, 1/12, 1/24 terms make the error grow with the magnitude spread of the inputs, which an
// "auto" choice must not trade silently.
//
// Work per thread, per block of Tb tiles (numbered over the whole batch, so 7x7 outputs waste no
// tile slots at row ends):
//   1. input transform: V[e][j][c] for the block's tiles, vectors along the channels (NHWC's
//      contiguous dimension), patches in the padding read from a zero column;
//   2. the 16 products, each through the taps kernel with one tap: U_e's packed A panels, and
//      V_e's tile columns read in place through one pointer per tile (each element is broadcast,
//      so V needs no packing); M[e][j][k] written with unit stride along k;
//   3. output transform and the epilogue, per tile and channel vector, into y.
// V and M of a block (16 x Tb x (C + K) elements) are sized for L2; U (16/9 of the weights) streams
// from L3 once per block, amortized over Tb tiles.
#include "winograd.hpp"

#include <algorithm>

#include "../arch/clone_vec.hpp"
#include "../arch/clones.hpp"
#include "../core/checked.hpp"
#include "../core/workspace.hpp"
#include "../gemm/driver.hpp"
#include "conv_direct.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif


namespace kernels {
namespace {

constexpr dim_t kLanes = 16;     // channels per transform step (one AVX-512 float vector)
constexpr dim_t kTileBytes = 384 * 1024;  // V + M of a block: within the 1 MiB L2 of Zen 4/5 and SPR's 2 MiB
constexpr const char* kWhat = "conv2d: the winograd workspace";

// The full unit-stride chunks, which are nearly all the work, use CloneVec (arch/clone_vec.hpp) so that
// GCC keeps the 4x4 patch in registers; the array-based chunk code below stays for tails and strided channels.

// U_e = G g G^T for one 3x3 kernel g (row-major), G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]].
template <typename T>
void transform_kernel(const T* g, T u[16]) {
    T t[4][3];  // G g
    for (int s = 0; s < 3; ++s) {
        t[0][s] = g[s];
        t[1][s] = (g[s] + g[3 + s] + g[6 + s]) * T(0.5);
        t[2][s] = (g[s] - g[3 + s] + g[6 + s]) * T(0.5);
        t[3][s] = g[6 + s];
    }
    for (int r = 0; r < 4; ++r) {  // (G g) G^T
        u[r * 4 + 0] = t[r][0];
        u[r * 4 + 1] = (t[r][0] + t[r][1] + t[r][2]) * T(0.5);
        u[r * 4 + 2] = (t[r][0] - t[r][1] + t[r][2]) * T(0.5);
        u[r * 4 + 3] = t[r][2];
    }
}

// V[e][c] = (B^T d B)_e for kLanes channels (Full) or fewer (len) of one tile, B^T = [[1, 0, -1, 0],
// [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]; p[r*4 + s] points at patch element (r, s) of the
// chunk's first channel, channels at stride cs (1 when Unit). Local arrays of kLanes, which GCC
// keeps in vector registers (one zmm per row for float); the full chunk has no lane condition.
template <typename T, bool Unit, bool Full>
KERNELS_INLINE void input_chunk(const T* const* p, inc_t cs, dim_t len, T* KERNELS_RESTRICT v, dim_t es) {
    T d[16][kLanes];
    for (int q = 0; q < 16; ++q)
        for (dim_t l = 0; l < kLanes; ++l) d[q][l] = Full || l < len ? p[q][l * (Unit ? 1 : cs)] : T(0);
    T t[16][kLanes];
    for (int s = 0; s < 4; ++s)
        for (dim_t l = 0; l < kLanes; ++l) {
            t[0 + s][l] = d[0 + s][l] - d[8 + s][l];
            t[4 + s][l] = d[4 + s][l] + d[8 + s][l];
            t[8 + s][l] = d[8 + s][l] - d[4 + s][l];
            t[12 + s][l] = d[4 + s][l] - d[12 + s][l];
        }
    for (int r = 0; r < 4; ++r) {
        T* v0 = v + (r * 4) * es;
        for (dim_t l = 0; l < (Full ? kLanes : len); ++l) {
            const T a = t[r * 4][l], b = t[r * 4 + 1][l], c = t[r * 4 + 2][l], d3 = t[r * 4 + 3][l];
            v0[l] = a - c;
            v0[es + l] = b + c;
            v0[2 * es + l] = c - b;
            v0[3 * es + l] = b - d3;
        }
    }
}

// One vector of channels at offset c of unit-stride patch rows: rows r of the patch combine into
// rows of B^T d (two patch rows each), each of those into four V rows; patch rows 1 and 2, used by
// every output row, stay in registers.
template <typename T>
KERNELS_INLINE void input_vector(const T* const* p, dim_t c, T* KERNELS_RESTRICT v, dim_t es) {
    using V = CloneVec<T>;
    typename V::type d1[4], d2[4], t[4];
    for (int s = 0; s < 4; ++s) d1[s] = V::load(p[4 + s] + c), d2[s] = V::load(p[8 + s] + c);
    auto emit = [&](int r) {  // V rows r*4 .. r*4+3 from t = row r of B^T d
        V::store(v + (r * 4 + 0) * es + c, t[0] - t[2]);
        V::store(v + (r * 4 + 1) * es + c, t[1] + t[2]);
        V::store(v + (r * 4 + 2) * es + c, t[2] - t[1]);
        V::store(v + (r * 4 + 3) * es + c, t[1] - t[3]);
    };
    for (int s = 0; s < 4; ++s) t[s] = V::load(p[s] + c) - d2[s];
    emit(0);
    for (int s = 0; s < 4; ++s) t[s] = d1[s] + d2[s];
    emit(1);
    for (int s = 0; s < 4; ++s) t[s] = d2[s] - d1[s];
    emit(2);
    for (int s = 0; s < 4; ++s) t[s] = d1[s] - V::load(p[12 + s] + c);
    emit(3);
}

// The transform of channels [0, n) of one tile into V (v[e*es + c]).
template <typename T, bool Unit>
KERNELS_CLONES void input_tile(const T* const* p, inc_t cs, dim_t n, T* KERNELS_RESTRICT v, dim_t es) {
    const T* q[16];
    dim_t c0 = 0;
    if (Unit)
        for (; c0 + CloneVec<T>::lanes <= n; c0 += CloneVec<T>::lanes) input_vector(p, c0, v, es);
    for (; c0 + kLanes <= n; c0 += kLanes) {
        for (int i = 0; i < 16; ++i) q[i] = p[i] + c0 * cs;
        input_chunk<T, Unit, true>(q, cs, kLanes, v + c0, es);
    }
    if (c0 < n) {
        for (int i = 0; i < 16; ++i) q[i] = p[i] + c0 * cs;
        input_chunk<T, Unit, false>(q, cs, n - c0, v + c0, es);
    }
}

// y = epilogue(A^T M A) for kLanes channels (Full) or fewer, A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]:
// m[e*es + l] holds M_e of the chunk's channel l; y[a] is output pixel a of the 2x2 tile
// (row-major) at the chunk's first channel, nullptr when it lies outside the output (odd Ho or Wo);
// sc/sf the chunk's scale and shift (nullptr: 1 and 0). Same NaN rule as Epilogue::apply.
template <typename T, bool Full>
KERNELS_INLINE void output_chunk(const T* KERNELS_RESTRICT m, dim_t es, dim_t len, const T* sc, const T* sf, Act act,
                                 T* const* y, inc_t ys_c, const T* const* res, inc_t rs_c) {
    T t[8][kLanes];  // A^T M: 2 rows x 4 columns
    for (int s = 0; s < 4; ++s)
        for (dim_t l = 0; l < kLanes; ++l) {
            const dim_t k = Full || l < len ? l : 0;
            const T m0 = m[(0 + s) * es + k], m1 = m[(4 + s) * es + k], m2 = m[(8 + s) * es + k],
                    m3 = m[(12 + s) * es + k];
            t[s][l] = m0 + m1 + m2;
            t[4 + s][l] = m1 - m2 - m3;
        }
    T o[4][kLanes];
    for (int a = 0; a < 2; ++a)
        for (dim_t l = 0; l < kLanes; ++l) {
            T v0 = t[a * 4][l] + t[a * 4 + 1][l] + t[a * 4 + 2][l];
            T v1 = t[a * 4 + 1][l] - t[a * 4 + 2][l] - t[a * 4 + 3][l];
            if (sc) v0 *= sc[Full || l < len ? l : 0], v1 *= sc[Full || l < len ? l : 0];
            if (sf) v0 += sf[Full || l < len ? l : 0], v1 += sf[Full || l < len ? l : 0];
            if (res[a * 2] && (Full || l < len)) v0 += res[a * 2][l * rs_c];
            if (res[a * 2 + 1] && (Full || l < len)) v1 += res[a * 2 + 1][l * rs_c];
            if (act != Act::none) {
                v0 = v0 < T(0) ? T(0) : v0, v1 = v1 < T(0) ? T(0) : v1;
                if (act == Act::relu6) v0 = v0 > T(6) ? T(6) : v0, v1 = v1 > T(6) ? T(6) : v1;
            }
            o[a * 2][l] = v0, o[a * 2 + 1][l] = v1;
        }
    for (int q = 0; q < 4; ++q) {
        if (y[q] == nullptr) continue;
        for (dim_t l = 0; l < (Full ? kLanes : len); ++l) y[q][l * ys_c] = o[q][l];
    }
}

// One vector of output channels at offset k, unit channel stride in y: A^T M row by row (four M
// rows each), then the two columns of each, the epilogue, and vector stores.
template <typename T>
KERNELS_INLINE void output_vector(const T* KERNELS_RESTRICT m, dim_t es, dim_t k, const Epilogue<T>& ep, T* const* y,
                                  const T* const* res) {
    using V = CloneVec<T>;
    typename V::type t[2][4];
    for (int s = 0; s < 4; ++s) {
        const typename V::type m0 = V::load(m + (0 + s) * es + k), m1 = V::load(m + (4 + s) * es + k),
                               m2 = V::load(m + (8 + s) * es + k), m3 = V::load(m + (12 + s) * es + k);
        t[0][s] = m0 + m1 + m2;
        t[1][s] = m1 - m2 - m3;
    }
    const typename V::type zero = V::splat(T(0)), six = V::splat(T(6));
    for (int a = 0; a < 2; ++a) {
        typename V::type o[2] = {t[a][0] + t[a][1] + t[a][2], t[a][1] - t[a][2] - t[a][3]};
        for (int b = 0; b < 2; ++b) {
            if (y[a * 2 + b] == nullptr) continue;
            typename V::type r = o[b];
            if (ep.scale) r *= V::load(ep.scale + k);
            if (ep.shift) r += V::load(ep.shift + k);
            if (res[a * 2 + b]) r += V::load(res[a * 2 + b] + k);  // read before y is written: may be y
            if (ep.act != Act::none) {
                r = r < zero ? zero : r;  // NaN compares false: stays NaN, as Epilogue::apply
                if (ep.act == Act::relu6) r = r > six ? six : r;
            }
            V::store(y[a * 2 + b] + k, r);
        }
    }
}

// The output transform of channels [0, n) of one tile (m[e*es + k]), its epilogue, into y; res[q]
// is the residual of output pixel q (nullptr: none, or the pixel is outside), channels at rs_c.
template <typename T>
KERNELS_CLONES void output_tile(const T* KERNELS_RESTRICT m, dim_t es, dim_t n, const Epilogue<T>& ep, T* const* y,
                                inc_t ys_c, const T* const* res, inc_t rs_c) {
    T* q[4];
    const T* rq[4];
    dim_t k0 = 0;
    // res[0] (the top-left pixel, always inside) is nullptr only without a residual.
    const bool unit_res = res[0] == nullptr || rs_c == 1;
    if (ys_c == 1 && unit_res)
        for (; k0 + CloneVec<T>::lanes <= n; k0 += CloneVec<T>::lanes) output_vector(m, es, k0, ep, y, res);
    auto at = [&](dim_t k) {
        for (int i = 0; i < 4; ++i) {
            q[i] = y[i] ? y[i] + k * ys_c : nullptr;
            rq[i] = res[i] ? res[i] + k * rs_c : nullptr;
        }
    };
    for (; k0 + kLanes <= n; k0 += kLanes) {
        at(k0);
        output_chunk<T, true>(m + k0, es, kLanes, ep.scale ? ep.scale + k0 : nullptr, ep.shift ? ep.shift + k0 : nullptr,
                              ep.act, q, ys_c, rq, rs_c);
    }
    if (k0 < n) {
        at(k0);
        output_chunk<T, false>(m + k0, es, n - k0, ep.scale ? ep.scale + k0 : nullptr,
                               ep.shift ? ep.shift + k0 : nullptr, ep.act, q, ys_c, rq, rs_c);
    }
}

// Everything the workspace size depends on.
template <typename T>
struct WinogradPlan {
    const Candidate<T>* cand;
    dim_t mr, nr, k_panels, kc;
    dim_t th, tw, tiles;  // tile rows and columns per image, tiles in the batch
    dim_t tb;             // tiles per block
    dim_t cp, kp;         // channel rows of V and M, padded to whole cache lines
    int nt;
    Grid grid;  // tm parts split the output channels (K panels), tn parts the tile blocks
    std::size_t u_elems;       // transformed weights
    std::size_t thread_elems;  // one thread's V and M
};

template <typename T>
WinogradPlan<T> plan_winograd(const ConvGeom& g, const Engine<T>& e, int nthreads) {
    WinogradPlan<T> p{};
    p.th = ceil_div(g.ho(), 2), p.tw = ceil_div(g.wo(), 2);
    p.tiles = checked_mul(g.n, checked_mul(p.th, p.tw, kWhat), kWhat);
    p.cand = &taps_candidate(e, g.k, p.tiles);
    p.mr = p.cand->ukr->mr, p.nr = p.cand->ukr->nr;
    p.k_panels = ceil_div(g.k, p.mr);
    p.kc = std::min<dim_t>(g.c, std::max<dim_t>(p.cand->blk.kc, 64));
    const dim_t line = static_cast<dim_t>(kAlign / sizeof(T));
    p.cp = round_up(g.c, line), p.kp = round_up(g.k, line);
    // Tiles per block: V and M within kTileBytes, at least 4 tile columns of the kernel (the A
    // panel in L1 is reused across them) and at most 16, and no more than a thread's share.
    const dim_t per_tile = 16 * (p.cp + p.kp) * static_cast<dim_t>(sizeof(T));
    dim_t tb = std::clamp<dim_t>(static_cast<dim_t>(kTileBytes) / per_tile / p.nr, 4, 16) * p.nr;
    // Threads: over tile blocks while each gets >= 4 tile columns of the kernel; with fewer tiles
    // (ResNet-50's 7x7 and 14x14 stages: 16 and 49 tiles) over output channels instead, every part
    // transforming the block's input itself (about a tenth of the work), so that no part idles and
    // none waits for another.
    const dim_t columns = ceil_div(p.tiles, p.nr), nt_max = std::max(nthreads, 1);
    if (columns >= 4 * nt_max || p.k_panels < 2) {
        p.nt = static_cast<int>(std::clamp<dim_t>(ceil_div(columns, 2), 1, nt_max));
        p.grid = {1, p.nt};
    } else {
        p.nt = static_cast<int>(std::min(nt_max, p.k_panels));
        p.grid = {p.nt, 1};
    }
    tb = std::min(tb, round_up(ceil_div(p.tiles, p.grid.tn), p.nr));
    p.tb = tb;
    p.u_elems = static_cast<std::size_t>(
        checked_mul(checked_mul(16, p.k_panels * p.mr, kWhat), g.c, kWhat));
    p.thread_elems = static_cast<std::size_t>(checked_mul(checked_mul(16, tb, kWhat), p.cp + p.kp, kWhat));
    checked_mul(checked_mul(static_cast<dim_t>(p.thread_elems), p.nt, kWhat), sizeof(T), kWhat);
    return p;
}

}  // namespace

template <typename T>
void pack_winograd_weights(const ConvGeom& g, const T* w, const Ukernel<T>& u, T* dst, int nthreads) {
    (void)nthreads;  // read by the OpenMP pragma only
    const dim_t MR = u.mr, kpanels = ceil_div(g.k, MR), C = g.c;
    const dim_t e_stride = kpanels * C * MR;
#pragma omp parallel for num_threads(nthreads) schedule(static) if (nthreads > 1 && g.k * C >= 4096)
    for (dim_t k = 0; k < kpanels * MR; ++k) {
        const dim_t kp = k / MR, i = k % MR;
        for (dim_t c = 0; c < C; ++c) {
            T ue[16];
            if (k < g.k) transform_kernel(w + (k * C + c) * 9, ue);
            else std::fill(ue, ue + 16, T(0));
            for (int e = 0; e < 16; ++e) dst[e * e_stride + (kp * C + c) * MR + i] = ue[e];
        }
    }
}

template <typename T>
void conv_winograd(const ConvGeom& g, const ConvIO<T>& io, const PackedWeights<T>* pw, const Engine<T>& e,
                   int nthreads) {
    const WinogradPlan<T> P = plan_winograd(g, e, nthreads);
    const Ukernel<T>& u = *P.cand->ukr;
    const dim_t MR = P.mr, NR = P.nr, C = g.c, K = g.k, TB = P.tb;

    // Transformed weights: the plan's (made once, under its lock), or this call's.
    const T* U = nullptr;
    if (pw != nullptr) {
        std::lock_guard<std::mutex> lock(pw->mutex);
        if (!pw->winograd) {
            auto ww = std::make_shared<WinogradWeights<T>>();
            ww->ukr = &u, ww->k_panels = P.k_panels, ww->u = AlignedBuffer<T>(P.u_elems);
            pack_winograd_weights(g, io.w, u, ww->u.get(), nthreads);
            pw->winograd = std::move(ww);
        }
        if (pw->winograd->ukr == &u) U = pw->winograd->u.get();
    }
    char* buf = static_cast<char*>(workspace(
        (U ? 0 : P.u_elems * sizeof(T)) + P.thread_elems * sizeof(T) * static_cast<std::size_t>(P.nt) + kAlign,
        Slot::scratch));
    T* const own_u = reinterpret_cast<T*>(buf);
    T* const threads_buf = own_u + (U ? 0 : round_up(static_cast<dim_t>(P.u_elems), kAlign / sizeof(T)));
    if (U == nullptr) {
        pack_winograd_weights(g, io.w, u, own_u, nthreads);
        U = own_u;
    }
    // Patch elements in the padding read this column of zeros (at the image's channel stride).
    const inc_t xs_c = io.xs.c < 0 ? -io.xs.c : io.xs.c;
    const T* zbuf = static_cast<const T*>(zero_block(static_cast<std::size_t>((C - 1) * xs_c + 1) * sizeof(T)));
    const T* zero = io.xs.c < 0 ? zbuf + (C - 1) * xs_c : zbuf;
    const bool unit = io.xs.c == 1;
    const dim_t blocks = ceil_div(P.tiles, TB), per_image = P.th * P.tw;
    const dim_t ve = TB * P.cp, me = TB * P.kp;  // element strides between e in V and in M
    const dim_t u_e = P.k_panels * C * MR;

    auto body = [&](int tid) {
        T* V = threads_buf + P.thread_elems * static_cast<std::size_t>(tid);
        T* M = V + 16 * ve;
        const T* bptr[16 * 4];  // NR <= 16 column pointers
        const dim_t a_off[1] = {0};
        dim_t kp0, kp1;  // this part's K panels, and its output channels [k0, k1)
        split(P.k_panels, P.grid.tm, tid % P.grid.tm, &kp0, &kp1);
        const dim_t k0 = kp0 * MR, k1 = std::min(K, kp1 * MR);
        if (k0 >= k1) return;
        Epilogue<T> ep = io.ep;  // indexed from k0
        if (ep.scale) ep.scale += k0;
        if (ep.shift) ep.shift += k0;
        for (dim_t blk = tid / P.grid.tm; blk < blocks; blk += P.grid.tn) {
            const dim_t q0 = blk * TB, tb = std::min(TB, P.tiles - q0);
            // 1. input transform
            for (dim_t j = 0; j < tb; ++j) {
                const dim_t q = q0 + j, img = q / per_image, ti = (q % per_image) / P.tw, tj = q % P.tw;
                const dim_t ih0 = 2 * ti - g.pt, iw0 = 2 * tj - g.pl;
                const T* base = io.x + img * io.xs.n;
                const T* p[16];
                for (int r = 0; r < 4; ++r)
                    for (int s = 0; s < 4; ++s) {
                        const dim_t ih = ih0 + r, iw = iw0 + s;
                        p[r * 4 + s] = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w ? base + ih * io.xs.h + iw * io.xs.w : zero;
                    }
                if (unit) input_tile<T, true>(p, 1, C, V + j * P.cp, ve);
                else input_tile<T, false>(p, io.xs.c, C, V + j * P.cp, ve);
            }
            // 2. M_e = U_e * V_e^T, reduction over the channels in chunks of kc (A panel chunk in L1)
            //    The A chunks (kc x MR of U) are read in the order (e, c0, kp); the calls of one
            //    chunk prefetch the next into L2. With few tiles per block (the 7x7 and 14x14
            //    stages) each chunk serves only 2-5 calls, so U (16/9 of the weights) streams from
            //    memory about as fast as the FMAs consume it: read on demand, each chunk's first
            //    call waited for it. Measured (Emerald Rapids, 1 thread, weights from memory as in
            //    a network): ResNet-50's 3x3 512 at 7x7 2.02-2.11 -> 1.44-1.49 ms, 3x3 256 at
            //    14x14 1.23-1.26 -> 0.90-0.94 (direct: 1.70 and 1.22-1.36).
            const dim_t calls = ceil_div(tb, NR);
            for (int ei = 0; ei < 16; ++ei) {
                const T* Ue = U + ei * u_e;
                const T* Ve = V + ei * ve;
                T* Me = M + ei * me;
                for (dim_t c0 = 0; c0 < C; c0 += P.kc) {
                    const dim_t kc = std::min(P.kc, C - c0);
                    const T beta = c0 == 0 ? T(0) : T(1);
                    for (dim_t kp = kp0; kp < kp1; ++kp) {
                        const dim_t i0 = kp * MR, mr = std::min(MR, K - i0);
                        const auto kern = mr <= MR / 2 && u.taps_half ? u.taps_half : u.taps;
                        const T* a = Ue + (kp * C + c0) * MR;
                        // The next chunk: the next K panel, else the next channel chunk, else the next e.
                        const T* next = kp + 1 < kp1       ? a + C * MR
                                        : c0 + P.kc < C    ? Ue + (kp0 * C + c0 + P.kc) * MR
                                        : ei + 1 < 16      ? Ue + u_e + kp0 * C * MR
                                                           : nullptr;
                        // (Sized as this chunk: where the next is shorter, the extra lines are the
                        // chunk after it, and a prefetch past U's end never faults.)
                        const dim_t lines = next ? ceil_div(kc * MR * static_cast<dim_t>(sizeof(T)), 64) : 0;
                        const dim_t per_call = ceil_div(lines, calls);
                        for (dim_t j0 = 0; j0 < tb; j0 += NR) {
                            const dim_t nr = std::min(NR, tb - j0);
                            for (dim_t j = 0; j < NR; ++j) bptr[j] = Ve + (j0 + std::min(j, nr - 1)) * P.cp + c0;
                            const dim_t done = std::min(lines, (j0 / NR) * per_call);
                            const L2Prefetch pfc{next ? reinterpret_cast<const char*>(next) + 64 * done : nullptr,
                                                 std::min(per_call, lines - done)};
                            kern(1, kc, a, a_off, bptr, 1, beta, Me + j0 * P.kp + i0, 1, P.kp, mr, nr, nullptr, pfc);
                        }
                    }
                }
            }
            // 3. output transform and epilogue
            for (dim_t j = 0; j < tb; ++j) {
                const dim_t q = q0 + j, img = q / per_image, ti = (q % per_image) / P.tw, tj = q % P.tw;
                T* y[4];
                const T* res[4];
                for (int a = 0; a < 2; ++a)
                    for (int b = 0; b < 2; ++b) {
                        const dim_t ho = 2 * ti + a, wo = 2 * tj + b;
                        const bool inside = ho < g.ho() && wo < g.wo();
                        y[a * 2 + b] = inside ? io.y + img * io.ys.n + ho * io.ys.h + wo * io.ys.w + k0 * io.ys.c
                                              : nullptr;
                        res[a * 2 + b] = inside && io.r
                                             ? io.r + img * io.rs.n + ho * io.rs.h + wo * io.rs.w + k0 * io.rs.c
                                             : nullptr;
                    }
                output_tile(M + j * P.kp + k0, me, k1 - k0, ep, y, io.ys.c, res, io.rs.c);
            }
        }
    };

#ifdef _OPENMP
    if (P.nt > 1) {
        // Parts are independent (own V and M, own outputs): a smaller team than asked runs every part.
#pragma omp parallel num_threads(P.nt)
        for (int part = omp_get_thread_num(); part < P.nt; part += omp_get_num_threads()) body(part);
        return;
    }
#endif
    // One thread (nt == 1, or a build without OpenMP, where the plan still split for nthreads and
    // the workspace holds P.nt parts' buffers): every part in turn.
    for (int part = 0; part < P.nt; ++part) body(part);
}

template <typename T>
std::size_t conv_winograd_workspace(const ConvGeom& g, const Engine<T>& e, int nthreads) {
    const WinogradPlan<T> P = plan_winograd(g, e, nthreads);
    const dim_t threads = checked_mul(static_cast<dim_t>(P.thread_elems), P.nt, kWhat);
    const dim_t elems = checked_add(static_cast<dim_t>(P.u_elems), threads, kWhat);
    const dim_t zero = checked_round_up(g.c * static_cast<dim_t>(sizeof(T)), 4096, kWhat);
    return static_cast<std::size_t>(checked_add(checked_mul(elems, sizeof(T), kWhat), zero + kAlign, kWhat));
}

#define KERNELS_WINOGRAD(T)                                                                                 \
    template void pack_winograd_weights<T>(const ConvGeom&, const T*, const Ukernel<T>&, T*, int);        \
    template void conv_winograd<T>(const ConvGeom&, const ConvIO<T>&, const PackedWeights<T>*,           \
                                   const Engine<T>&, int);                                                \
    template std::size_t conv_winograd_workspace<T>(const ConvGeom&, const Engine<T>&, int);

KERNELS_WINOGRAD(float)
KERNELS_WINOGRAD(double)

}  // namespace kernels
