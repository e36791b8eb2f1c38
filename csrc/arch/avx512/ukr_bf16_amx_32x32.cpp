// bf16 micro-kernel on AMX tiles (Sapphire Rapids and later): a 32x32 fp32 tile as 2x2 TDPBF16PS
// tiles of 16x16, k in steps of 32 (one tile's depth). Per step 4 tile loads feed 4 TDPBF16PS
// (each 16 x 16 x 32 products, 16 cycles on the tile unit): every loaded A and B tile is used
// twice, the blocking oneDNN's and MLAS's AMX kernels use (8 tile registers: 4 C, 2 A, 2 B).
//
// Packed forms (BUkernel kunit 32: k padded with zeros to a multiple of 32 in both panels):
//   A (MR = 32 lanes i): the pairs layout of the AVX512-BF16 kernel, pair q of lane t at
//     a[64q + 2t]: 16 pairs of lanes 0-15 are TDPBF16PS's B operand as they lie (16 rows of 64
//     bytes, stride 128), lanes 16-31 the same at +64 bytes.
//   B (NR = 32 columns j): per k step of 32 a [32 j][32 k] block of 2 KiB: its two halves are
//     TDPBF16PS's A operand (16 rows of 32 k values, stride 64 bytes), contiguous 1 KiB tiles.
//     Or B in place (BTiles::ld_b): the same tiles loaded from B's columns at their stride; or B
//     packed in that layout (columns ld_b apart) by the tiles themselves (Fill, amx_bukr_filling).
// C tiles hold 16 columns j x 16 lanes i (rows j): stored with a row stride of 32 floats they are
// the acc[i + 32j] tile the bf16 store (arch/btile_store.hpp) finishes. Between k blocks the fp32
// partial sums go straight from and to the tiles, in a buffer of 32x32 tiles (not C's layout).
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "amx.hpp"
#include "avx512.hpp"
#include "../btile_store.hpp"
#include "../../gemm/bpacking.hpp"

// AVX512-BW/VL beside the tile instructions (every AMX CPU has them): the packers and stores of
// 16-bit lanes written or inlined here use zmm registers (with the folder's -mavx512f alone GCC
// compiled the inlined portable store to ymm code and vpackusdw).
#define KERNELS_AMX_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,amx-tile,amx-bf16")))

namespace kernels {
namespace {

constexpr int kMR = 32, kNR = 32, kKStep = 32;

std::atomic<bool> g_amx_on{true};

// Where B's tiles lie: packed, a 2 KiB [32 j][32 k] block per k step (rows of 64 bytes); or in
// place (BTiles::ld_b), column j's k values at b + j*ld_b, a k step 32 values on.
struct BStride {
    dim_t step, half;  // elements to the next k step, and to columns 16-31
    long row_bytes;    // between a tile's rows (columns j)
    explicit BStride(inc_t ld_b)
        : step(ld_b ? kKStep : kKStep * kNR), half(ld_b ? 16 * ld_b : 16 * kKStep), row_bytes(ld_b ? ld_b * 2 : 64) {}
    dim_t panel(dim_t steps) const { return step == kKStep ? 2 * half : steps * kKStep * kNR; }  // to the next 32 columns
};

// The part of the next B panel that this tile fetches into L2, `lines` lines per k step in order
// (the panel's bytes as they lie: packed, or 32 columns of whole k in place): the panel is split
// over the A panels of the block (BTiles::a_panels), so that the column's last tile has fetched
// the whole next panel (none: lines == 0). Contiguous lines: fetching each column's line of the
// step instead (strided) made 1024^3 1.04x and 4096^3 1.04-1.09x slower.
struct Prefetch {
    const char* p;
    dim_t lines;
    KERNELS_INLINE void step() {
        for (dim_t l = 0; l < lines; ++l) _mm_prefetch(p + l * 64, _MM_HINT_T1);
        p += lines * 64;
    }
};

// The share of the next B panel this tile packs (BPanelFill), one line of each of its columns per
// k step: column c's 32 k values of the step, masked past kc, to its row of the panel (B in
// place's layout, ld apart). Each column is read in order (a stream the hardware prefetcher
// follows), and the loads and stores go to the core's ports while TDPBF16PS runs on the tile
// unit: at 1024^3 the copy is 2 lines per 64-cycle step. The panel it writes is the next
// column's, which no tile reads yet.
struct Fill {
    const std::uint16_t* src;
    inc_t cs;
    dim_t cols, real, left;  // left: k values from this step on
    std::uint16_t* dst;
    inc_t ld;
    explicit Fill(const BPanelFill& f)
        : src(f.src), cs(f.cs), cols(f.cols), real(f.real), left(f.kc), dst(f.panel + f.c0 * f.ld), ld(f.ld) {}
    KERNELS_AMX_BF16 KERNELS_INLINE void step() {
        const __mmask32 mask = left >= kKStep ? ~__mmask32{0} : left > 0 ? (__mmask32{1} << left) - 1 : 0;
        dim_t c = 0;
        for (; c < real; ++c) _mm512_store_si512(dst + c * ld, _mm512_maskz_loadu_epi16(mask, src + c * cs));
        for (; c < cols; ++c) _mm512_store_si512(dst + c * ld, _mm512_setzero_si512());
        src += kKStep, dst += kKStep, left -= kKStep;
    }
};

// Tiles: C 0 = (j 0-15, i 0-15), 1 = (j 0-15, i 16-31), 2 = (j 16-31, i 0-15), 3 = (j 16-31, i 16-31);
// B panel halves 4 (j 0-15), 5 (j 16-31); A panel halves 6 (i 0-15), 7 (i 16-31). TwoI / TwoJ
// false: the tile's second half of lanes / columns is beyond m / n and is not computed.
//
// Both panels come from L2 (at KC = 1024 each is 64 KiB, more than L1): per step the A tiles load
// with the streaming hint (TILELOADDT1), so that they do not evict the B panel's lines, which the
// tiles of the next A panels load again; and this tile's share of the next B panel (Prefetch) is
// fetched into L2, so that the first tile of the next column does not wait on L3.
// In a 1 thread loop over a 1 MiB A block and 2 MiB of B panels (k = 1024, Emerald Rapids): plain
// loads 1.96 TFLOP/s, the hint 2.01, the prefetch 2.02, both 2.05.
// Side: what the step does beside the tiles (Prefetch, or Fill).
template <bool TwoI, bool TwoJ, class Side>
KERNELS_AMX_BF16 KERNELS_INLINE void run_steps(dim_t steps, const std::uint16_t* a, const std::uint16_t* b, Side side,
                                                const BStride& bs) {
    for (dim_t s = 0; s < steps; ++s, a += kKStep * kMR, b += bs.step) {
        side.step();
        _tile_loadd(4, b, bs.row_bytes);
        _tile_stream_loadd(6, a, 128);
        if constexpr (TwoI) _tile_stream_loadd(7, a + 32, 128);
        _tile_dpbf16ps(0, 4, 6);
        if constexpr (TwoI) _tile_dpbf16ps(1, 4, 7);
        if constexpr (TwoJ) {
            _tile_loadd(5, b + bs.half, bs.row_bytes);
            _tile_dpbf16ps(2, 5, 6);
            if constexpr (TwoI) _tile_dpbf16ps(3, 5, 7);
        }
    }
}

// The C tiles from / to fp32 sums laid out as P(i, j) = p[i + 32j] (32 x 32, 4 KiB contiguous: the
// acc tile, and one tile's partial sums between k blocks). Halves beyond m / n are not moved.
template <bool TwoI, bool TwoJ>
KERNELS_AMX_BF16 KERNELS_INLINE void load_c(const float* p) {
    _tile_loadd(0, p, 128);
    if constexpr (TwoI) _tile_loadd(1, p + 16, 128);
    if constexpr (TwoJ) _tile_loadd(2, p + 16 * 32, 128);
    if constexpr (TwoI && TwoJ) _tile_loadd(3, p + 16 * 32 + 16, 128);
}
template <bool TwoI, bool TwoJ>
KERNELS_AMX_BF16 KERNELS_INLINE void store_c(float* p) {
    _tile_stored(0, p, 128);
    if constexpr (TwoI) _tile_stored(1, p + 16, 128);
    if constexpr (TwoJ) _tile_stored(2, p + 16 * 32, 128);
    if constexpr (TwoI && TwoJ) _tile_stored(3, p + 16 * 32 + 16, 128);
}

// One k block of the tile: starts from zero (first block) or from the earlier blocks' sums in
// part; ends by storing the sums to part (not the last block: returns false) or to acc (true).
template <bool TwoI, bool TwoJ, class Side>
KERNELS_AMX_BF16 bool block(dim_t steps, const std::uint16_t* a, const std::uint16_t* b, const BStride& bs, const Side& side,
                            float* part, bool first_k, bool last_k, float* acc) {
    if (first_k) {
        _tile_zero(0);
        if constexpr (TwoI) _tile_zero(1);
        if constexpr (TwoJ) _tile_zero(2);
        if constexpr (TwoI && TwoJ) _tile_zero(3);
    } else {
        load_c<TwoI, TwoJ>(part);
    }
    run_steps<TwoI, TwoJ>(steps, a, b, side, bs);
    store_c<TwoI, TwoJ>(last_k ? acc : part);
    return last_k;
}

// The common last store: a full tile of a plain product (alpha 1, beta 0, no epilogue) into bf16 C
// with unit stride along i: each column's 32 sums rounded in two zmm registers and stored, the
// rounding of f32_to_bf16 (bukernel.hpp) lane by lane (NaN quieted, else + 0x7fff + the kept
// bit's parity). The general store's passes over a column buffer took 9% of a 1024^3 product.
KERNELS_AMX_BF16 KERNELS_INLINE __m256i round_bf16(__m512 v) {
    const __m512i u = _mm512_castps_si512(v);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff))), 16);
    r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40)));
    return _mm512_cvtepi32_epi16(r);
}

KERNELS_AMX_BF16 KERNELS_INLINE bool plain_bf16_store(const float* acc, const BTiles& g, dim_t i0, dim_t j0) {
    if (!g.c_bf16 || g.rs_c != 1 || g.alpha != 1.0f || g.beta != 0.0f || g.ep.active()) return false;
    std::uint16_t* c = static_cast<std::uint16_t*>(g.c) + i0 + j0 * g.cs_c;
    for (int j = 0; j < kNR; ++j, c += g.cs_c) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(c), round_bf16(_mm512_load_ps(acc + j * kMR)));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + 16), round_bf16(_mm512_load_ps(acc + j * kMR + 16)));
    }
    return true;
}

// Partial sums between k blocks stay in the tile's own layout: tile (i0/32, j0/32) at g.part + 1024 *
// (i0/32 + j0/32 * g.ld_p), g.ld_p = tiles along i (bgemm.cpp sizes it so). In C's layout the 16
// rows of a C tile were 4 KiB apart for n = 1024 (one L1 set: 12 ways for 16 rows): loading and
// storing them took a fifth of the time of the 1024^3 product.
// full: the side work of a tile with both halves; edge: of the others (prefetch: none, they are
// the column's last or a thin product's; a fill must run in every tile).
template <class Side>
KERNELS_AMX_BF16 KERNELS_INLINE void amx_tile(dim_t steps, const std::uint16_t* a, const std::uint16_t* b, const BTiles& g,
                                              dim_t i0, dim_t j0, dim_t m, dim_t n, bool first_k, bool last_k,
                                              const Side& full, const Side& edge) {
    amx::configure_full_tiles();
    float* part = g.part ? g.part + 1024 * (i0 / kMR + (j0 / kNR) * g.ld_p) : nullptr;
    const BStride bs(g.ld_b);
    alignas(64) float acc[kMR * kNR];
    // Edge tiles: only the halves that hold lanes / columns are computed; the store reads acc for
    // i < m, j < n only.
    const bool two_i = m > 16, two_j = n > 16;
    bool done;
    if (two_i && two_j) done = block<true, true>(steps, a, b, bs, full, part, first_k, last_k, acc);
    else if (two_i) done = block<true, false>(steps, a, b, bs, edge, part, first_k, last_k, acc);
    else if (two_j) done = block<false, true>(steps, a, b, bs, edge, part, first_k, last_k, acc);
    else done = block<false, false>(steps, a, b, bs, edge, part, first_k, last_k, acc);
    if (!done) return;
    if (m == kMR && n == kNR && plain_bf16_store(acc, g, i0, j0)) return;
    bstore_tile<kMR>(acc, g, i0, j0, m, n, /*first_k*/ true, true);  // acc holds every block's sum
}

KERNELS_AMX_BF16 void amx_bukr(dim_t steps, const void* KERNELS_RESTRICT av, const void* KERNELS_RESTRICT bv,
                               const BTiles& g, dim_t i0, dim_t j0, dim_t m, dim_t n, bool first_k, bool last_k) {
    const auto* a = static_cast<const std::uint16_t*>(av);
    const auto* b = static_cast<const std::uint16_t*>(bv);
    // The next B panel: packed right after this one, or 32 columns on (kNR * steps lines).
    const BStride bs(g.ld_b);
    const dim_t parts = std::clamp<dim_t>(g.a_panels, 1, kNR), lines = kNR / parts;
    const Prefetch pf{reinterpret_cast<const char*>(b + bs.panel(steps)) + (i0 / kMR) % parts * lines * steps * 64, lines};
    amx_tile(steps, a, b, g, i0, j0, m, n, first_k, last_k, pf, Prefetch{nullptr, 0});
}

// The tile that also packs its share of the next B panel (no prefetch: that panel is being written).
KERNELS_AMX_BF16 void amx_bukr_filling(dim_t steps, const void* KERNELS_RESTRICT av, const void* KERNELS_RESTRICT bv,
                                       const BTiles& g, dim_t i0, dim_t j0, dim_t m, dim_t n, bool first_k, bool last_k,
                                       const BPanelFill& f) {
    const Fill fill(f);
    amx_tile(steps, static_cast<const std::uint16_t*>(av), static_cast<const std::uint16_t*>(bv), g, i0, j0, m, n, first_k,
             last_k, fill, fill);
}

// One pair of a full panel with contiguous lanes: rows s0 (k = 2q) and s1 (k = 2q+1) of 32 lanes
// interleaved into 64 values (lane t at 2t, 2t+1). vpunpck{l,h}wd interleave within 128-bit lanes
// (lo: lanes 0-3, 8-11, 16-19, 24-27; hi: 4-7, ...), one vpermt2q per half puts them in order.
KERNELS_AMX_BF16 KERNELS_INLINE void interleave_pair(const std::uint16_t* s0, const std::uint16_t* s1, std::uint16_t* d) {
    const __m512i x = _mm512_loadu_si512(s0), y = _mm512_loadu_si512(s1);
    const __m512i lo = _mm512_unpacklo_epi16(x, y), hi = _mm512_unpackhi_epi16(x, y);
    _mm512_storeu_si512(d, _mm512_permutex2var_epi64(lo, _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), hi));
    _mm512_storeu_si512(d + 32, _mm512_permutex2var_epi64(lo, _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15), hi));
}

// A: 32-lane pair panels (bpacking.hpp's layout), zero pairs up to the padded k. Full panels with
// contiguous lanes (A from a row-major B: the usual case) interleave in zmm registers (the portable
// loop, compiled to ymm code, took 0.6 cycles per element: a tenth of a 1024^3 product), two k
// rows at a time across every full panel: both rows read in order, one 128-byte write per panel.
// Panel by panel (a 64-byte strip down all k rows, 2 KiB apart at n = 1024) took 184 us for a
// 1024 x 1024 A from L3, row order 135 us (about L3's bandwidth for 2 MiB in and out).
KERNELS_AMX_BF16 void pack_a(dim_t mc, dim_t kc, const std::uint16_t* a, inc_t rs, inc_t cs, void* dst) {
    auto* d = static_cast<std::uint16_t*>(dst);
    const dim_t kp = round_up(kc, kKStep), used = round_up(kc, 2);
    const dim_t full = rs == 1 ? mc / kMR * kMR : 0;  // lanes in full panels packed in row order
    for (dim_t p = 0; p + 1 < kc; p += 2)
        for (dim_t i = 0; i < full; i += kMR) interleave_pair(a + i + p * cs, a + i + (p + 1) * cs, d + i * kp + p * kMR);
    for (dim_t i = 0; i < mc; i += kMR) {
        std::uint16_t* di = d + i * kp;
        if (i < full) {
            if (kc % 2) bpack_pairs_panel<kMR>(1, kMR, a + i + (kc - 1) * cs, cs, 1, di + (kc - 1) * kMR);
        } else {
            bpack_pairs_panel<kMR>(kc, std::min<dim_t>(mc - i, kMR), a + i * rs, cs, rs, di);
        }
        std::memset(di + used * kMR, 0, static_cast<std::size_t>((kp - used) * kMR) * 2);
    }
}

KERNELS_AMX_BF16 void fill_panel(dim_t steps, const BPanelFill& f) {
    Fill fill(f);
    for (dim_t s = 0; s < steps; ++s) fill.step();
}

// B: per k step a [32 j][32 k] block; zero past kc and past nc.
KERNELS_AMX_BF16 void pack_b(dim_t kc, dim_t nc, const std::uint16_t* b, inc_t rs, inc_t cs, void* dst) {
    auto* d = static_cast<std::uint16_t*>(dst);
    const dim_t kp = round_up(kc, kKStep);
    for (dim_t j0 = 0; j0 < nc; j0 += kNR, d += kp * kNR) {
        const dim_t w = nc - j0 < kNR ? nc - j0 : kNR;
        if (w < kNR || kc < kp) std::memset(d, 0, static_cast<std::size_t>(kp * kNR) * 2);
        const std::uint16_t* src = b + j0 * cs;
        if (rs == 1) {  // each column's k values contiguous: 64-byte copies (memcpy ran rep movsq, ~30 cycles each)
            for (dim_t s = 0; s * kKStep < kc; ++s) {
                const dim_t len = kc - s * kKStep < kKStep ? kc - s * kKStep : kKStep;
                const __mmask32 mask = len == kKStep ? ~__mmask32{0} : (__mmask32{1} << len) - 1;
                for (dim_t j = 0; j < w; ++j)
                    _mm512_storeu_si512(d + s * kKStep * kNR + j * kKStep,
                                        _mm512_maskz_loadu_epi16(mask, src + j * cs + s * kKStep));
            }
        } else {  // columns contiguous (or neither): read along j, write 32 scattered streams
            for (dim_t p = 0; p < kc; ++p) {
                std::uint16_t* dp = d + (p / kKStep) * kKStep * kNR + p % kKStep;
                const std::uint16_t* sp = src + p * rs;
                for (dim_t j = 0; j < w; ++j) dp[j * kKStep] = sp[j * cs];
            }
        }
    }
}

bool runs_amx_bf16() {
    static const bool ok = amx::usable(amx::kBf16);
    return ok && g_amx_on.load(std::memory_order_relaxed);
}

}  // namespace

bool bf16_amx_available() { return amx::usable(amx::kBf16); }
bool set_bf16_amx(bool on) { return g_amx_on.exchange(on); }

const BUkernel ukr_bf16_amx_32x32 = {"ukr_bf16_amx_32x32", Isa::avx512, kMR, kNR, kKStep, &amx_bukr, &pack_a, &pack_b,
                                     &runs_amx_bf16, &amx_bukr_filling, &fill_panel};

}  // namespace kernels
