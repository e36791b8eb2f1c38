// int8 micro-kernel for AVX512-VNNI (u8 x s8 -> s32): 32x12 tile, 2 vectors of 16 output channels
// x 12 broadcast pixels, one vpdpbusd per vector and pixel per k quad (24 accumulators, 2 weight
// vectors, 1 broadcast: 27 of 32 registers). The epilogue (compensation, float or requantized
// output, the QLinearAdd of a skip tensor) runs on the accumulators in registers; edge tiles and
// strides other than unit along the channels go through the scalar store (arch/qtile_store.hpp),
// which computes the same values.
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>

#include "amx.hpp"
#include "avx512.hpp"
#include "../qtile_store.hpp"
#include "../../gemm/qpacking.hpp"

// VNNI beyond the folder's -mavx512f: only this kernel needs it, and it runs only where the
// table's check (cpu_runs below) saw avx512vnni.
#define KERNELS_VNNI __attribute__((target("avx512f,avx512vnni")))

namespace kernels {
namespace {

constexpr int kNR = 12;

// The per-channel vectors of one 16-channel half, loaded once per tile (not once per pixel: the
// loop's stores through c, a char*, may alias anything, so GCC reloaded them for every pixel).
struct HalfVecs {
    __m512i row_add;
    __m512 mult;
};

KERNELS_VNNI KERNELS_INLINE HalfVecs half_vecs(const QEpilogue& e, int h) {
    return {_mm512_loadu_si512(e.row_add + 16 * h),
            e.mult ? _mm512_loadu_ps(e.mult + 16 * h) : _mm512_setzero_ps()};
}

// The epilogue's scalars as vectors, computed once per tile. Inlined into each of a tile's 24
// finish_vec calls, the clamp bounds (int-to-float conversions, compares, branches, broadcasts)
// stayed inside the pixel loop, in out-of-line blocks GCC jumped to for every vector: on Zen 4,
// where the VNNI kernel runs every layer (no AMX), they took 30% of ResNet-50's 56x56 1x1 64->256
// layer (k = 64: 16 quads of vpdpbusd per tile, then this).
struct FinishConsts {
    __m512 lo, hi;     // the 8-bit output's clamp in output units: the type's range less the zero
                       // point, the activation folded in (see finish_vec)
    __m512 zp_f;       // out_zp as a float
    __m512i zp;        // out_zp
    __m512 inv_out;    // the residual's factor
    __m512 ra, rb, k;  // QLinearAdd with the skip tensor
    __m512 slo, shi;   // the skip sum's saturation bounds
};

KERNELS_VNNI KERNELS_INLINE FinishConsts finish_consts(const QEpilogue& e) {
    const bool s8 = e.mode == QMode::s8;
    float lo = static_cast<float>((s8 ? -128 : 0) - e.out_zp), hi = static_cast<float>((s8 ? 127 : 255) - e.out_zp);
    if (e.act != Act::none) lo = lo > 0.0f ? lo : 0.0f;
    if (e.act == Act::relu6) hi = hi < e.hi ? hi : e.hi;
    return {_mm512_set1_ps(lo),          _mm512_set1_ps(hi),
            _mm512_set1_ps(static_cast<float>(e.out_zp)), _mm512_set1_epi32(e.out_zp),
            _mm512_set1_ps(e.inv_out_scale), _mm512_set1_ps(e.add_ra),
            _mm512_set1_ps(e.add_rb),    _mm512_set1_ps(e.add_k),
            _mm512_set1_ps(s8 ? -128.0f : 0.0f), _mm512_set1_ps(s8 ? 127.0f : 255.0f)};
}

// QLinearAdd with the skip tensor (qukernel.hpp) of the saturated 8-bit values qf (as floats):
// the skip bytes of pixel j, two FMAs, clamp, round; stored as bytes (in range: truncation exact).
KERNELS_VNNI KERNELS_INLINE void store_skip_sum(__m512 qf, const FinishConsts& f, const QEpilogue& e, int h, dim_t j,
                                                void* c) {
    const __m128i sb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(e.skip + 16 * h + j * e.cs_s));
    const __m512 sv = _mm512_cvtepi32_ps(e.mode == QMode::s8 ? _mm512_cvtepi8_epi32(sb) : _mm512_cvtepu8_epi32(sb));
    const __m512 u = _mm512_min_ps(_mm512_max_ps(_mm512_fmadd_ps(qf, f.ra, _mm512_fmadd_ps(sv, f.rb, f.k)), f.slo), f.shi);
    const __m512i q = _mm512_cvt_roundps_epi32(u, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(static_cast<__m128i*>(c), _mm512_cvtepi32_epi8(q));
}

// AddRow = false: the accumulators started from row_add (the register epilogue's tiles), so the
// int32 sum already holds it (wrapping addition is associative: the same bits).
template <bool AddRow = true>
KERNELS_VNNI KERNELS_INLINE void finish_vec(__m512i acc, const HalfVecs& hv, const FinishConsts& f, const QEpilogue& e,
                                            int h, dim_t j, void* c) {
    if constexpr (AddRow) acc = _mm512_add_epi32(acc, hv.row_add);
    if (e.row_zw)
        acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(_mm512_loadu_si512(e.row_zw + 16 * h), _mm512_set1_epi32(e.col_sum[j])));
    if (e.mode == QMode::i32) {
        _mm512_storeu_si512(c, acc);
        return;
    }
    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), hv.mult);
    const float* r = e.res ? e.res + 16 * h + j * e.cs_r : nullptr;
    if (e.mode == QMode::f32) {
        if (r) v = _mm512_add_ps(v, _mm512_loadu_ps(r));
        // max(0, v) / min(6, v): the second operand comes back when one is NaN, so NaN stays NaN.
        if (e.act != Act::none) v = _mm512_max_ps(_mm512_setzero_ps(), v);
        if (e.act == Act::relu6) v = _mm512_min_ps(_mm512_set1_ps(6.0f), v);
        _mm512_storeu_ps(c, v);
        return;
    }
    const bool s8 = e.mode == QMode::s8;
    if (!r) {
        // No residual: v = float(acc) * mult is finite or +-inf, never NaN, so the activation and
        // the type's saturation fold into one clamp to [lo, hi] in output units before rounding
        // (onnxruntime's order): rint(clamp(v)) == clamp(rint(v)) for integer bounds, and relu6's
        // bound only lowers hi. Then the sum with out_zp is in range and vpmovdb's truncation
        // exact: 5 instructions instead of 9 (relu, the +-2^16 clamp, max 0, vpmovusdb's two).
        v = _mm512_min_ps(_mm512_max_ps(v, f.lo), f.hi);
        if (!e.skip) {
            const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(v), f.zp);  // half to even
            _mm_storeu_si128(static_cast<__m128i*>(c), _mm512_cvtepi32_epi8(q));
            return;
        }
        // The skip sum: the saturated q as a float, rint(v) + zp (exact: small integers).
        store_skip_sum(_mm512_add_ps(_mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), f.zp_f), f, e, h, j, c);
        return;
    }
    // A float residual: v may be NaN (inf - inf, a NaN residual), which the clamp above would turn
    // into a bound; the long way keeps the scalar store's order (arch/qtile_store.hpp).
    v = _mm512_add_ps(v, _mm512_mul_ps(_mm512_loadu_ps(r), f.inv_out));
    if (e.act != Act::none) v = _mm512_max_ps(_mm512_setzero_ps(), v);
    if (e.act == Act::relu6) v = _mm512_min_ps(_mm512_set1_ps(e.hi), v);
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-65536.0f)), _mm512_set1_ps(65536.0f));
    __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(v), f.zp);  // round half to even
    if (e.skip) {
        q = _mm512_min_epi32(_mm512_max_epi32(q, _mm512_set1_epi32(s8 ? -128 : 0)), _mm512_set1_epi32(s8 ? 127 : 255));
        store_skip_sum(_mm512_cvtepi32_ps(q), f, e, h, j, c);
        return;
    }
    // Saturation by the narrowing stores themselves (vpmovsdb: int32 to [-128, 127]; vpmovusdb:
    // unsigned to [0, 255], after max(q, 0)): the same clamp in one or two fewer instructions.
    if (e.mode == QMode::u8)
        _mm_storeu_si128(static_cast<__m128i*>(c), _mm512_cvtusepi32_epi8(_mm512_max_epi32(q, _mm512_setzero_si512())));
    else
        _mm_storeu_si128(static_cast<__m128i*>(c), _mm512_cvtsepi32_epi8(q));
}

// Requantized 8-bit output of raw tile sums with nothing else to add (no residual, skip or weight
// zero points): finish_vec's shortest branch with every per-channel vector and bound hoisted out of
// the pixel loop and no per-vector tests of the epilogue's options. ResNet-50's 56x56 1x1 64->64
// layer (k = 64: 4 TDPBUSD a tile, then this) spent 54% of its time in the general loop, about 8
// cycles a vector. The same arithmetic, bit for bit.
KERNELS_VNNI void requant_tile(const std::int32_t* tile, char* c, inc_t cs_c, dim_t n, const QEpilogue& e) {
    const FinishConsts f = finish_consts(e);
    const __m512i r0 = _mm512_loadu_si512(e.row_add), r1 = _mm512_loadu_si512(e.row_add + 16);
    const __m512 m0 = _mm512_loadu_ps(e.mult), m1 = _mm512_loadu_ps(e.mult + 16);
    auto one = [&](__m512i acc, __m512i r, __m512 m) {
        const __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(acc, r)), m), f.lo), f.hi);
        return _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(v), f.zp));
    };
    for (dim_t j = 0; j < n; ++j) {
        char* cj = c + j * cs_c;
        _mm_storeu_si128(reinterpret_cast<__m128i*>(cj), one(_mm512_load_si512(tile + 32 * j), r0, m0));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(cj + 16), one(_mm512_load_si512(tile + 32 * j + 16), r1, m1));
    }
}

// A finished tile's raw sums in L1 (pixel j's 32 channels at tile + 32j, j < n <= 12) through the
// epilogue: earlier k blocks' partial sums (acc_in) added, then vectors of channels where the
// output's channels are contiguous, else the channel-contiguous L1 tile or the scalar store.
KERNELS_VNNI void finish_tile(const std::int32_t* tile, const std::int32_t* acc_in, inc_t rs_in, inc_t cs_in, void* c,
                              inc_t rs_c, inc_t cs_c, dim_t m, dim_t n, const QEpilogue* ep) {
    const bool vec = m == 32 && rs_c == 1 && (!acc_in || rs_in == 1) && (!ep || !ep->res || ep->rs_r == 1) &&
                     (!ep || !ep->skip || ep->rs_s == 1);
    const dim_t es = ep ? qelem_size(ep->mode) : 4;
    char* cb = static_cast<char*>(c);
    // Pixels contiguous instead (NCHW convolution output): the epilogue still runs on vectors of
    // channels, into an L1 tile, then each channel's pixels are copied out (a residual must have
    // unit channel stride here too; NCHW's goes through the scalar store).
    const bool tvec = !vec && ep && m == 32 && cs_c == 1 && (!acc_in || rs_in == 1) && (!ep->res || ep->rs_r == 1) &&
                      (!ep->skip || ep->rs_s == 1);
    // A local copy of the epilogue: its fields cannot alias the output either, so they stay in
    // registers across the pixel loop.
    const QEpilogue e = ep ? *ep : QEpilogue{};
    if (tvec) {
        const HalfVecs h0 = half_vecs(e, 0), h1 = half_vecs(e, 1);
        const FinishConsts f = finish_consts(e);
        alignas(64) unsigned char fin[kNR * 32 * 4];
        for (dim_t j = 0; j < n; ++j) {
            __m512i v0 = _mm512_load_si512(tile + 32 * j), v1 = _mm512_load_si512(tile + 32 * j + 16);
            if (acc_in) {
                v0 = _mm512_add_epi32(v0, _mm512_loadu_si512(acc_in + j * cs_in));
                v1 = _mm512_add_epi32(v1, _mm512_loadu_si512(acc_in + j * cs_in + 16));
            }
            finish_vec(v0, h0, f, e, 0, j, fin + 32 * j * es);
            finish_vec(v1, h1, f, e, 1, j, fin + (32 * j + 16) * es);
        }
        for (dim_t i = 0; i < 32; ++i)
            for (dim_t j = 0; j < n; ++j) std::memcpy(cb + (i * rs_c + j) * es, fin + (32 * j + i) * es, static_cast<std::size_t>(es));
        return;
    }
    if (!vec) {
        qstore_tile<32>(tile, acc_in, rs_in, cs_in, c, rs_c, cs_c, m, n, ep);
        return;
    }
    if (ep && !acc_in && (e.mode == QMode::u8 || e.mode == QMode::s8) && !e.row_zw && !e.res && !e.skip) {
        requant_tile(tile, cb, cs_c, n, e);
        return;
    }
    const HalfVecs h0 = ep ? half_vecs(e, 0) : HalfVecs{}, h1 = ep ? half_vecs(e, 1) : HalfVecs{};
    const FinishConsts f = finish_consts(e);
    for (dim_t j = 0; j < n; ++j) {
        __m512i v0 = _mm512_load_si512(tile + 32 * j), v1 = _mm512_load_si512(tile + 32 * j + 16);
        if (acc_in) {
            v0 = _mm512_add_epi32(v0, _mm512_loadu_si512(acc_in + j * cs_in));
            v1 = _mm512_add_epi32(v1, _mm512_loadu_si512(acc_in + j * cs_in + 16));
        }
        char* cj = cb + j * cs_c * es;
        if (!ep) {
            _mm512_storeu_si512(cj, v0);
            _mm512_storeu_si512(cj + 64, v1);
        } else {
            finish_vec(v0, h0, f, e, 0, j, cj);
            finish_vec(v1, h1, f, e, 1, j, cj + 16 * es);
        }
    }
}


// Rows = false: b is a packed micro-panel (quad q of pixel j at b[48q + 4j]). Rows = true: b is
// pixel 0's unpacked row of activations (NHWC pixels, an im2col row), pixel j's at b + j*ldb, its
// quad q at 4q: the GEMM then needs no B packing at all (a broadcast load reads 4 bytes from any
// address, so the packed layout buys nothing here but its cost: a second pass over every
// activation byte per call, which cost more than the products for the 1x1 layers of small k).
// Twelve row pointers, each advancing 4 bytes per quad: 12 sequential streams the L1 prefetcher
// follows. Columns past n re-read pixel 0's row (it exists; their sums are never stored), so the
// kernel reads no byte outside the n rows it is given.
// W: the columns computed, 12 or, for the last tile of a row of pixels, 8 or 4 (n <= W): a tile
// of 1 pixel (49 = 4*12 + 1, the 7x7 layers) cost a whole 12-column tile's products; with W = 4 a
// third. The packed panel stays 12 wide (its quad stride 48 bytes).
template <bool Rows, int W>
KERNELS_VNNI KERNELS_INLINE void ukr_t(dim_t kq, const std::int8_t* KERNELS_RESTRICT a,
                                       const std::uint8_t* KERNELS_RESTRICT b, inc_t ldb, const std::int32_t* acc_in,
                                       inc_t rs_in, inc_t cs_in, void* c, inc_t rs_c, inc_t cs_c, dim_t m, dim_t n,
                                       const QEpilogue* ep) {
    // The common last tile (channel vectors stored whole, no earlier partial sum) takes its
    // epilogue straight from the registers (below); its accumulators start from row_add (bias and
    // compensation), one addition per vector fewer in the epilogue.
    const bool in_regs = ep && !acc_in && m == 32 && rs_c == 1 && (!ep->res || ep->rs_r == 1) &&
                         (!ep->skip || ep->rs_s == 1);
    const __m512i init0 = in_regs ? _mm512_loadu_si512(ep->row_add) : _mm512_setzero_si512();
    const __m512i init1 = in_regs ? _mm512_loadu_si512(ep->row_add + 16) : _mm512_setzero_si512();
    __m512i c0[W], c1[W];
#pragma GCC unroll 12
    for (int j = 0; j < W; ++j) c0[j] = init0, c1[j] = init1;
    if constexpr (Rows) {
        const std::uint8_t* p[W];
#pragma GCC unroll 12
        for (int j = 0; j < W; ++j) p[j] = b + (j < n ? j : 0) * ldb;
        for (dim_t q = 0; q < kq; ++q) {
            const __m512i w0 = _mm512_loadu_si512(a), w1 = _mm512_loadu_si512(a + 64);
#pragma GCC unroll 12
            for (int j = 0; j < W; ++j) {
                std::int32_t quad;
                std::memcpy(&quad, p[j] + 4 * q, 4);
                const __m512i bj = _mm512_set1_epi32(quad);
                c0[j] = _mm512_dpbusd_epi32(c0[j], bj, w0);
                c1[j] = _mm512_dpbusd_epi32(c1[j], bj, w1);
            }
            a += 128;
        }
    } else {
        for (dim_t q = 0; q < kq; ++q) {
            const __m512i w0 = _mm512_loadu_si512(a), w1 = _mm512_loadu_si512(a + 64);
#pragma GCC unroll 12
            for (int j = 0; j < W; ++j) {
                std::int32_t quad;
                std::memcpy(&quad, b + 4 * j, 4);
                const __m512i bj = _mm512_set1_epi32(quad);
                c0[j] = _mm512_dpbusd_epi32(c0[j], bj, w0);
                c1[j] = _mm512_dpbusd_epi32(c1[j], bj, w1);
            }
            a += 128;
            b += 4 * kNR;
        }
    }
    // The register epilogue: the pixel loop unrolled so every index is a constant (the 24 stores
    // and loads of the L1 tile below cost ~10% of a k = 64 layer's tile).
    if (in_regs) {
        const QEpilogue e = *ep;
        const HalfVecs h0 = half_vecs(e, 0), h1 = half_vecs(e, 1);
        const FinishConsts f = finish_consts(e);
        const dim_t es = qelem_size(e.mode);
        char* cb = static_cast<char*>(c);
#pragma GCC unroll 12
        for (int j = 0; j < W; ++j) {
            if (j < n) {
                char* cj = cb + j * cs_c * es;
                finish_vec<false>(c0[j], h0, f, e, 0, j, cj);
                finish_vec<false>(c1[j], h1, f, e, 1, j, cj + 16 * es);
            }
        }
        return;
    }
    // The accumulators go through an L1 tile once, every index a constant: with the epilogue
    // reading c0[j] / c1[j] under a run-time bound, GCC kept the arrays in memory and stored all 24
    // accumulators on every k quad (measured: half the speed).
    alignas(64) std::int32_t tile[W * 32];
#pragma GCC unroll 12
    for (int j = 0; j < W; ++j) {
        _mm512_store_si512(tile + 32 * j, c0[j]);
        _mm512_store_si512(tile + 32 * j + 16, c1[j]);
    }
    finish_tile(tile, acc_in, rs_in, cs_in, c, rs_c, cs_c, m, n, ep);
}

KERNELS_VNNI void ukr(dim_t kq, const std::int8_t* KERNELS_RESTRICT a, const std::uint8_t* KERNELS_RESTRICT b,
                      const std::int32_t* acc_in, inc_t rs_in, inc_t cs_in, void* c, inc_t rs_c, inc_t cs_c, dim_t m,
                      dim_t n, const QEpilogue* ep) {
    if (n <= 4)
        ukr_t<false, 4>(kq, a, b, 0, acc_in, rs_in, cs_in, c, rs_c, cs_c, m, n, ep);
    else if (n <= 8)
        ukr_t<false, 8>(kq, a, b, 0, acc_in, rs_in, cs_in, c, rs_c, cs_c, m, n, ep);
    else
        ukr_t<false, kNR>(kq, a, b, 0, acc_in, rs_in, cs_in, c, rs_c, cs_c, m, n, ep);
}

// -- AMX (Sapphire Rapids and later): the same 32x12 tile's products on the tile unit -----------
// Where the CPU has AMX-INT8 and the OS grants the tile state, the unpacked-row products run as
// TDPBUSD: the activation rows are the A tile as they lie (n pixels x 64 bytes of k, stride ldb:
// no packing, the VNNI kernel's rows), the packed weight panel is the B tile as it lies (quad q of
// the 32 channels at a + 128q: channels 0-15 at +0 and 16-31 at +64, stride 128 = the VNNI layout
// TDPBUSD wants), C = two n x 16 int32 tiles (pixels x channels). One TDPBUSD pair per 16 quads
// replaces 384 vpdpbusd. The sums then go through the same L1-tile epilogue (finish_tile).
#define KERNELS_AMX __attribute__((target("avx512f,avx512vnni,amx-tile,amx-int8")))

std::atomic<bool> g_amx_on{true};

// Products with at least this many k quads (k >= 256) run on AMX. Each tile's sums leave the tile
// unit through an L1 tile where the VNNI kernel finishes in registers, a fixed cost that shorter
// products do not repay. Measured per layer (1 thread, Emerald Rapids, QConv2d NHWC u8, AMX / VNNI
// time): k = 64 1.06x, 128 1.10x, 256 0.97-1.01x, 512 0.92-0.94x, 576 (3x3x64) 0.71x, 1152 0.64x,
// 2304 0.52x; the 1024^3 qgemm 1544 against 751 GOP/s.
constexpr dim_t kAmxMinQuads = 64;

// The tiles: 0, 1 = C (12 pixels x 16 int32), 2 = A (12 pixels x 64 bytes), 3, 4 = B (16 quads x
// 64), and for a k tail of rem quads 5 = A (12 x 4*rem), 6, 7 = B (rem x 64). Loaded once per
// product and tail on each thread (amx::configure: another library's AMX kernels, onnxruntime's or
// oneDNN's, may have loaded their own on the thread between two of our products).
void amx_configure(dim_t rem) {
    amx::TileConfig cfg;
    cfg.rows[0] = cfg.rows[1] = cfg.rows[2] = kNR;  // full 12-pixel tiles only (ukr_rows)
    cfg.colsb[0] = cfg.colsb[1] = cfg.colsb[2] = 64;
    cfg.rows[3] = cfg.rows[4] = 16;
    cfg.colsb[3] = cfg.colsb[4] = 64;
    if (rem) {
        cfg.rows[5] = kNR, cfg.colsb[5] = static_cast<std::uint16_t>(4 * rem);
        cfg.rows[6] = cfg.rows[7] = static_cast<std::uint8_t>(rem);
        cfg.colsb[6] = cfg.colsb[7] = 64;
    }
    amx::configure(cfg, static_cast<unsigned>(rem));  // keys 0..15: this kernel's
}

// The raw sums of 12 pixels x 32 channels into tile (pixel j's channels at tile + 32j).
KERNELS_AMX void amx_rows_sums(dim_t kq, const std::int8_t* a, const std::uint8_t* b, inc_t ldb, std::int32_t* tile) {
    const dim_t full = kq / 16, rem = kq % 16;
    amx_configure(rem);
    _tile_zero(0);
    _tile_zero(1);
    for (dim_t q = 0; q < full; ++q) {  // (weights streamed: see amx_wide)
        _tile_loadd(2, b + 64 * q, ldb);
        _tile_stream_loadd(3, a + 2048 * q, 128);
        _tile_stream_loadd(4, a + 2048 * q + 64, 128);
        _tile_dpbusd(0, 2, 3);
        _tile_dpbusd(1, 2, 4);
    }
    if (rem) {
        _tile_loadd(5, b + 64 * full, ldb);
        _tile_loadd(6, a + 2048 * full, 128);
        _tile_loadd(7, a + 2048 * full + 64, 128);
        _tile_dpbusd(0, 5, 6);
        _tile_dpbusd(1, 5, 7);
    }
    _tile_stored(0, tile, 128);
    _tile_stored(1, tile + 16, 128);
}

KERNELS_VNNI void ukr_rows(dim_t kq, const std::int8_t* KERNELS_RESTRICT a, const std::uint8_t* KERNELS_RESTRICT b,
                           inc_t ldb, const std::int32_t* acc_in, inc_t rs_in, inc_t cs_in, void* c, inc_t rs_c,
                           inc_t cs_c, dim_t m, dim_t n, const QEpilogue* ep) {
    if (n == kNR && kq >= kAmxMinQuads && int8_amx_enabled()) {
        alignas(64) std::int32_t tile[kNR * 32];
        amx_rows_sums(kq, a, b, ldb, tile);
        finish_tile(tile, acc_in, rs_in, cs_in, c, rs_c, cs_c, m, n, ep);
        return;
    }
    if (n <= 4)
        ukr_t<true, 4>(kq, a, b, ldb, acc_in, rs_in, cs_in, c, rs_c, cs_c, m, n, ep);
    else if (n <= 8)
        ukr_t<true, 8>(kq, a, b, ldb, acc_in, rs_in, cs_in, c, rs_c, cs_c, m, n, ep);
    else
        ukr_t<true, kNR>(kq, a, b, ldb, acc_in, rs_in, cs_in, c, rs_c, cs_c, m, n, ep);
}

// -- AMX, 2x2 tiles: 32 pixels x 32 channels per call (the wide_rows variant) -------------------
// C tiles 0 = (pixels 0-15, channels 0-15), 1 = (0-15, 16-31), 2 = (16-31, 0-15), 3 = (16-31,
// 16-31); A tiles 4, 5 = pixel rows 0-15 / 16-31 (64 k each, stride ldb); B tiles 6, 7 = the
// weight panel's channels 0-15 / 16-31 (16 quads, stride 128). Per 64 k, 4 tile loads feed 4
// TDPBUSD: each loaded tile serves two products, where the 12-pixel tiles above load 3 tiles for
// 2 products, the weights once per 12 pixels, with 12 of a tile's 16 rows used. All 8 tiles are
// taken, so a k tail (kq % 16 quads) cannot have tiles of its own shape: it runs on vpdpbusd
// (ukr_t) on top of the tile sums, which that kernel takes as its acc_in (integer sums: exact in
// any order).
// The weight tiles are loaded with TILELOADDT1 (the streaming hint): the driver runs every weight
// panel of its L2 block past one pixel tile, so the pixel tile (32 rows x k bytes, 32 KiB at
// k = 1024) is what L1 should keep, and each weight panel (another 32 KiB) is read once per pixel
// tile. With plain loads the two evicted each other (64 KiB a call against L1's 48) and both came
// from L2. Emerald Rapids, 1 thread, 1024^3 qgemm, processes alternating: 1.65-1.69 -> 1.41-1.50
// ms; streaming the pixel rows instead: 1.57-4.06 ms.
// n <= 32 pixels x 32 channels over 16 * full quads, pixel j's channels stored at dst + j * ld
// (int32 elements), each tile starting from zero (init == nullptr: the raw sums, into the L1 tile
// the epilogue finishes), from the per-channel vector init (init_ld 0: the int32 output's whole
// epilogue, stored straight into C: a stride-0 tile load repeats its 16 channels down the 16 pixel
// rows) or from an earlier k block's sums, pixel j's at init + j * init_ld. The direct forms skip
// the L1 tile's read-back, which waits for the tile stores to complete (vector loads get nothing
// forwarded from tile stores): 1024^3 int32 on Emerald Rapids, 1 thread, 1.21-1.23 -> 1.16-1.19 ms.
// An edge of n < 32 pixels (the 7x7 layers' 49 = 32 + 17, 14x14's 196 = 6*32 + 4) has its pixel
// tiles and their C tiles configured with n rows (pixels 0-15) and n - 16 (16-31; none for
// n <= 16), so the loads read no row past the n given. On 12-pixel AMX tiles plus vpdpbusd for the
// last 1-11 pixels, a 4-pixel VNNI tile took as long as a 32-pixel AMX tile (49 x 2048 x 512
// prepacked: 81 -> 58 us).
KERNELS_AMX void amx_wide(dim_t full, const std::int8_t* a, const std::uint8_t* b, inc_t ldb, const std::int32_t* init,
                          inc_t init_ld, std::int32_t* dst, inc_t ld, dim_t n) {
    const bool hi = n > 16;  // pixels 16-31 are there
    if (n == 32) {
        amx::configure_full_tiles();
    } else {
        amx::TileConfig cfg = amx::full_tiles();
        cfg.rows[0] = cfg.rows[1] = cfg.rows[4] = static_cast<std::uint8_t>(std::min<dim_t>(n, 16));
        cfg.rows[2] = cfg.rows[3] = cfg.rows[5] = static_cast<std::uint8_t>(hi ? n - 16 : 0);
        if (!hi) cfg.colsb[2] = cfg.colsb[3] = cfg.colsb[5] = 0;  // (an unused tile: no rows, no bytes)
        amx::configure(cfg, 0x200 + static_cast<unsigned>(n));
    }
    if (init) {
        const inc_t ib = init_ld * static_cast<inc_t>(sizeof(std::int32_t));
        _tile_loadd(0, init, ib);
        _tile_loadd(1, init + 16, ib);
        if (hi) {
            _tile_loadd(2, init + 16 * init_ld, ib);
            _tile_loadd(3, init + 16 * init_ld + 16, ib);
        }
    } else {
        _tile_zero(0);
        _tile_zero(1);
        if (hi) {
            _tile_zero(2);
            _tile_zero(3);
        }
    }
    const std::uint8_t* b1 = b + 16 * ldb;
    for (dim_t q = 0; q < full; ++q) {
        _tile_loadd(4, b + 64 * q, ldb);
        _tile_stream_loadd(6, a + 2048 * q, 128);
        _tile_dpbusd(0, 4, 6);
        _tile_stream_loadd(7, a + 2048 * q + 64, 128);
        _tile_dpbusd(1, 4, 7);
        if (hi) {
            _tile_loadd(5, b1 + 64 * q, ldb);
            _tile_dpbusd(2, 5, 6);
            _tile_dpbusd(3, 5, 7);
        }
    }
    const inc_t bytes = ld * static_cast<inc_t>(sizeof(std::int32_t));
    _tile_stored(0, dst, bytes);
    _tile_stored(1, dst + 16, bytes);
    if (hi) {
        _tile_stored(2, dst + 16 * ld, bytes);
        _tile_stored(3, dst + 16 * ld + 16, bytes);
    }
}

// The 12-pixel kernel on pixels [j0, j0 + n) of a wide tile (edge tiles, short reductions).
KERNELS_VNNI void rows_chunk(dim_t kq, const std::int8_t* a, const std::uint8_t* b, inc_t ldb, const std::int32_t* acc_in,
                             inc_t rs_in, inc_t cs_in, char* c, inc_t rs_c, inc_t cs_c, dim_t es, dim_t m, dim_t j0,
                             dim_t n, const QEpilogue* ep) {
    const QEpilogue e = ep ? ep->at(0, j0) : QEpilogue{};
    ukr_rows(kq, a, b + j0 * ldb, ldb, acc_in ? acc_in + j0 * cs_in : nullptr, rs_in, cs_in, c + j0 * cs_c * es, rs_c,
             cs_c, m, n, ep ? &e : nullptr);
}

KERNELS_VNNI void wide_rows(dim_t kq, const std::int8_t* KERNELS_RESTRICT a, const std::uint8_t* KERNELS_RESTRICT b,
                            inc_t ldb, const std::int32_t* acc_in, inc_t rs_in, inc_t cs_in, void* cv, inc_t rs_c,
                            inc_t cs_c, dim_t m, dim_t n, const QEpilogue* ep) {
    char* c = static_cast<char*>(cv);
    const dim_t es = ep ? qelem_size(ep->mode) : 4;
    const dim_t full = kq / 16, rem = kq % 16;
    if (full == 0) {  // no whole 64-byte k step: 12-pixel chunks
        for (dim_t j0 = 0; j0 < n; j0 += kNR)
            rows_chunk(kq, a, b, ldb, acc_in, rs_in, cs_in, c, rs_c, cs_c, es, m, j0, std::min<dim_t>(kNR, n - j0), ep);
        return;
    }
    // An earlier k block's sums with the channels contiguous (the int32 output, or the partial-sum
    // buffer) are the tiles' start: tile loads, where an element loop after the tiles took longer
    // than a 256-deep block's products (ResNet-50's 14x14 3x3 layer: k = 2304 in blocks of 2048 and
    // 256). acc_in may be c: the tiles load it all before they store.
    const bool tiles_in = acc_in && rs_in == 1 && m == 32;
    auto* c32 = static_cast<std::int32_t*>(cv);
    if (rem == 0 && m == 32 && rs_c == 1) {
        if (!ep && (!acc_in || tiles_in)) {  // a k block's raw partial sums
            amx_wide(full, a, b, ldb, acc_in, cs_in, c32, cs_c, n);
            return;
        }
        if (ep && ep->mode == QMode::i32 && !ep->row_zw && !acc_in) {
            amx_wide(full, a, b, ldb, ep->row_add, 0, c32, cs_c, n);
            return;
        }
    }
    alignas(64) std::int32_t tile[32 * 32];
    amx_wide(full, a, b, ldb, tiles_in ? acc_in : nullptr, cs_in, tile, 32, n);
    if (acc_in && !tiles_in)  // an earlier k block's sums first (acc_in may be c: read all before writing any)
        for (dim_t j = 0; j < n; ++j)  // (int32 sums wrap, as the tiles' and the vectors' do: added unsigned)
            for (dim_t i = 0; i < m; ++i)
                tile[32 * j + i] = static_cast<std::int32_t>(static_cast<std::uint32_t>(tile[32 * j + i]) +
                                                             static_cast<std::uint32_t>(acc_in[i * rs_in + j * cs_in]));
    // Per 12-pixel chunk (finish_tile and ukr_t take at most 12): the tail's quads on vpdpbusd with
    // the tile sums as acc_in, else the sums straight through the epilogue.
    for (dim_t j0 = 0; j0 < n; j0 += kNR) {
        const dim_t w = std::min<dim_t>(kNR, n - j0);
        const QEpilogue e = ep ? ep->at(0, j0) : QEpilogue{};
        char* cj = c + j0 * cs_c * es;
        const std::int32_t* tj = tile + 32 * j0;
        const std::int8_t* at = a + 2048 * full;
        const std::uint8_t* bt = b + j0 * ldb + 64 * full;
        if (rem == 0) finish_tile(tj, nullptr, 0, 0, cj, rs_c, cs_c, m, w, ep ? &e : nullptr);
        else if (w > 8) ukr_t<true, kNR>(rem, at, bt, ldb, tj, 1, 32, cj, rs_c, cs_c, m, w, ep ? &e : nullptr);
        else if (w > 4) ukr_t<true, 8>(rem, at, bt, ldb, tj, 1, 32, cj, rs_c, cs_c, m, w, ep ? &e : nullptr);
        else ukr_t<true, 4>(rem, at, bt, ldb, tj, 1, 32, cj, rs_c, cs_c, m, w, ep ? &e : nullptr);
    }
}

bool runs_vnni() { return __builtin_cpu_supports("avx512vnni"); }

}  // namespace

bool int8_amx_available() {
    static const bool ok = __builtin_cpu_supports("avx512vnni") && amx::usable(amx::kInt8);
    return ok;
}
bool set_int8_amx(bool on) { return g_amx_on.exchange(on); }
bool int8_amx_enabled() { return g_amx_on.load(std::memory_order_relaxed) && int8_amx_available(); }

// Products with k >= 64 on 2x2 tiles: unlike the 12-pixel tiles (kAmxMinQuads) they repay their
// way out through memory from k = 64 on. ResNet-50's 1x1 layers, 1 thread, Emerald Rapids, wide /
// VNNI time: k = 64 (3136 pixels, 64 -> 256 channels) 0.90x, 64 -> 64 1.0x, k = 128 (784 pixels,
// 128 -> 512) 0.70x.
// k granule 16 quads: a tile step (kq rounded up where the rows hold zeros past k: gemm/qgemm.cpp).
const QUkernel ukr_s8_amx_32x32 = {"ukr_s8_amx_32x32", Isa::avx512, 32, 32, nullptr, &avx512::qpack_a32, nullptr,
                                   &int8_amx_enabled, &wide_rows, nullptr, 0, 16};
const QUkernel ukr_s8_avx512vnni_32x12 = {"ukr_s8_avx512vnni_32x12", Isa::avx512, 32, kNR, &ukr, &avx512::qpack_a32,
                                          &qpack_b<kNR>, &runs_vnni, &ukr_rows, &ukr_s8_amx_32x32, 64};
}  // namespace kernels
