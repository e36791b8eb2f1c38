// The int8 GEMM: zero-point compensation vectors, the kernel choice and the five-loop driver with
// int8 traits (packed s8 weights and u8 activations, int32 accumulation, the output mode's store).
//
// Compensation (all int32, wrapping like ONNX's accumulator): with the shifted operands
// a' = a ^ 0x80 for s8 activations (a + 128, zero point + 128) and w' = w ^ 0x80 for u8 weights
// (w - 128, zero point - 128), the kernels compute S = sum a'*w' (vpdpbusd wants u8 x s8) and
//     sum (a' - za')(w' - zw') = S - za'*colsum(w') - zw'*rowsum(a') + k*za'*zw',
// the per-channel terms folded with the bias into row_add, the per-pixel rowsum (needed only
// when some zw' != 0, summed from the packed panels while packing) into col_sum.
#include "qgemm.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "../arch/product_generation.hpp"
#include "../arch/qtile_store.hpp"
#include "../arch/table.hpp"
#include "../arch/uarch.hpp"
#include "../core/cpu_info.hpp"
#include "../core/engine.hpp"
#include "../core/workspace.hpp"
#include "driver.hpp"

namespace kernels {

namespace {

// The C side of one int8 product: the output, the int32 partial sums of earlier k blocks (part:
// c itself for int32 output, else a buffer; only when k spans several blocks), the epilogue.
struct QTiles {
    dim_t m, n, k;
    char* c;
    inc_t rs_c, cs_c;
    dim_t es;  // bytes of an output element
    std::int32_t* part;
    inc_t rs_p, cs_p;
    QEpilogue ep;
    inc_t ldb = 0;  // the unpacked activations' pixel stride (S8RowsTraits)
    dim_t zero_to = 0;  // the rows' readable bytes, zeros past k (QGemmArgs::b_zero_to)
    dim_t readable = 0;  // the rows' readable bytes (QGemmArgs::b_readable)
    dim_t a_zero_to = 0;  // the weight panels' k length, zeros past k (prepacked: QGemmArgs::a_packed_k)
};

struct S8Traits {
    using PA = std::int8_t;
    using PB = std::uint8_t;
    using Cand = QCandidate;
    using Tiles = QTiles;
    static constexpr int kUnit = 4;
    static dim_t kpad(dim_t kc) { return round_up(kc, 4); }
    static KERNELS_INLINE void tile(const QTiles& g, const QUkernel& u, dim_t kc, const std::int8_t* a,
                                    const std::uint8_t* b, bool first_k, bool last_k, dim_t i, dim_t j, dim_t mr,
                                    dim_t nr) {
        std::int32_t* part = g.part ? g.part + i * g.rs_p + j * g.cs_p : nullptr;
        const std::int32_t* in = first_k ? nullptr : part;
        if (last_k) {
            const QEpilogue e = g.ep.at(i, j);
            u.kernel(kc / 4 + (kc % 4 != 0), a, b, in, g.rs_p, g.cs_p, g.c + (i * g.rs_c + j * g.cs_c) * g.es, g.rs_c,
                     g.cs_c, mr, nr, &e);
        } else {
            u.kernel(kc / 4 + (kc % 4 != 0), a, b, in, g.rs_p, g.cs_p, part, g.rs_p, g.cs_p, mr, nr, nullptr);
        }
    }
};

// The same tiles on unpacked activations (QUkernel::kernel_rows): b is pixel j's row at k offset
// p0, whatever block it is in (RowsQB below hands the driver such pointers as "prepacked" panels).
// Where the rows hold zeros past k up to a whole k granule of the kernel (b_zero_to: the
// convolution's lowered rows), or hold readable bytes that far and the weights hold zeros
// (b_readable and prepacked weights: a matrix's rows read in place), the last block's kernel gets
// its granules whole: the AMX kernel's tail of 1-15 quads, else on vpdpbusd beside the tiles,
// takes one more tile step instead (the stem's k = 147: 37 quads, 2 tile steps and 5 quads on
// vpdpbusd, which cost more than the tiles; as a prepacked 1x1 layer on NumPy rows, 12544 x 147 x
// 64 with qgemm's split below, 1 thread, Emerald Rapids: 651-668 -> 452-504 us).
struct S8RowsTraits : S8Traits {
    static KERNELS_INLINE void tile(const QTiles& g, const QUkernel& u, dim_t kc, const std::int8_t* a,
                                    const std::uint8_t* b, bool first_k, bool last_k, dim_t i, dim_t j, dim_t mr,
                                    dim_t nr) {
        std::int32_t* part = g.part ? g.part + i * g.rs_p + j * g.cs_p : nullptr;
        const std::int32_t* in = first_k ? nullptr : part;
        dim_t kq = kc / 4 + (kc % 4 != 0);
        const dim_t whole = round_up(kq, u.k_granule);
        const dim_t end = g.k - kc + 4 * whole;  // (the last block starts at k - kc)
        if (last_k && (end <= g.zero_to || (end <= g.readable && end <= g.a_zero_to))) kq = whole;
        if (last_k) {
            const QEpilogue e = g.ep.at(i, j);
            u.kernel_rows(kq, a, b, g.ldb, in, g.rs_p, g.cs_p, g.c + (i * g.rs_c + j * g.cs_c) * g.es, g.rs_c,
                          g.cs_c, mr, nr, &e);
        } else {
            u.kernel_rows(kq, a, b, g.ldb, in, g.rs_p, g.cs_p, part, g.rs_p, g.cs_p, mr, nr, nullptr);
        }
    }
};

// Activations read in place, pixel j's k values at b[j*ldb + p]: to the driver a prepacked operand
// whose "panel" of pixels [first, first + NR) at k offset p0 is the first pixel's row pointer.
struct RowsQB {
    static constexpr bool prepacked = true;
    const std::uint8_t* b;
    inc_t ldb;
    dim_t nr;
    const std::uint8_t* panel(dim_t first, dim_t p0) const { return b + first * ldb + p0; }
    inc_t panel_stride() const { return nr * ldb; }
};

struct StridedQA {
    static constexpr bool prepacked = false;
    const std::int8_t* a;
    inc_t rs, cs;
    std::uint8_t flip;
    void pack(const QUkernel& u, dim_t i0, dim_t mc, dim_t p0, dim_t kc, std::int8_t* dst) const {
        u.pack_a(mc, kc, a + i0 * rs + p0 * cs, rs, cs, flip, dst);
    }
};

// The activations, packed per (jc, pc) block. With `sums`, packing also accumulates each pixel's
// negated sum of its shifted activations (the compensation of nonzero weight zero points) from the
// panels it has just written, still in L1: every column is packed by one thread once per k block,
// before any thread's last-k epilogue reads it (after the driver's barrier, or by the same thread).
struct StridedQB {
    static constexpr bool prepacked = false;
    const std::uint8_t* b;
    inc_t rs, cs;
    std::uint8_t flip;
    std::int32_t* sums;  // per pixel, or nullptr
    void pack(const QUkernel& u, dim_t j0, dim_t nc, dim_t p0, dim_t kc, std::uint8_t* dst) const {
        u.pack_b(kc, nc, b + p0 * rs + j0 * cs, rs, cs, flip, dst);
        if (!sums) return;
        const dim_t NR = u.nr, quads = (kc + 3) / 4;
        for (dim_t j = 0; j < nc; j += NR) {
            const std::uint8_t* panel = dst + (j / NR) * quads * 4 * NR;
            const dim_t w = std::min(NR, nc - j);
            for (dim_t t = 0; t < w; ++t) {
                std::uint32_t s = 0;  // (zero padding past k adds nothing)
                for (dim_t q = 0; q < quads; ++q)
                    for (int x = 0; x < 4; ++x) s += panel[q * 4 * NR + t * 4 + x];
                std::int32_t& out = sums[j0 + j + t];
                out = static_cast<std::int32_t>((p0 == 0 ? 0u : static_cast<std::uint32_t>(out)) - s);
            }
        }
    }
};

// Weights packed whole by pack_qweights: panel q of MR channels holds kp * MR bytes (kp:
// packed_qweights_k, QGemmArgs::a_packed_k);
// a k offset p0 (a multiple of KC, so of 4) starts p0 * MR bytes into it.
struct PrepackedQA {
    static constexpr bool prepacked = true;
    const std::int8_t* base;
    dim_t w, kp;
    const std::int8_t* panel(dim_t first, dim_t p0) const { return base + (first / w) * w * kp + p0 * w; }
    inc_t panel_stride() const { return w * kp; }
};

// int8 blocks: the x86 rule's cache shares with 1-byte elements, KC up to 4096 k steps (AVX2; the
// AVX-512 kernels take the largest blocks, qcandidate says why).
constexpr BlockRule kBlocksS8 = {/*kc_l1_div*/ 2, /*mc_l2_div*/ 4, /*nc_l3_div*/ 4, /*kc_min*/ 256,
                                 /*kc_max*/ 4096, /*mc_max*/ 1024, /*nc_min*/ 512, /*nc_max*/ 4096};

std::atomic<bool> g_unpacked_b{true};

int useful_qthreads(dim_t m, dim_t n, dim_t k, const QUkernel& u, int nthreads) {
#ifndef _OPENMP
    (void)m, (void)n, (void)k, (void)u, (void)nthreads;
    return 1;
#else
    if (nthreads <= 1) return 1;
    // ~4x the float engine's work per thread (2e5 FMAs): a vpdpbusd does 4 multiply-adds per lane.
    const double macs = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
    const double tiles = static_cast<double>(ceil_div(m, u.mr) * ceil_div(n, u.nr));
    const double cap = std::min(macs / 8.0e5, tiles);
    return cap < 2.0 ? 1 : static_cast<int>(std::min<double>(cap, nthreads));
#endif
}

}  // namespace

void set_int8_unpacked_b(bool on) { g_unpacked_b.store(on, std::memory_order_relaxed); }
bool int8_unpacked_b() { return g_unpacked_b.load(std::memory_order_relaxed); }

QCandidate qcandidate() {
    const Isa cap = isa_cap();
    const QUkernel* u = nullptr;
    for (const IsaRow& r : isa_table()) {
        if (static_cast<int>(r.isa) > static_cast<int>(cap) || !r.build || !r.build->s8 || !r.cpu_runs()) continue;
        if (r.build->s8->cpu_runs && !r.build->s8->cpu_runs()) continue;
        u = r.build->s8;
        break;
    }
    Blocking blk = derive_blocking(u->mr, u->nr, 1, cache_sizes(), kBlocksS8);
    // AVX-512 (vpdpbusd): one k block up to 4096, MC 512 channels and NC 4096, not the cache
    // shares (KC 1360, MC 192 on Zen 4), as the bf16 pairs kernel (gemm/bgemm.cpp says why): the
    // kernel needs 176 bytes per 24 vpdpbusd, which L2 or L3 streams; a second k block stores and
    // reloads every C tile as int32 partial sums. Zen 4, one process alternating configurations,
    // 2048^3: 1 thread 45.2 -> 41.0-41.7 ms, 2 threads 23.9 -> 21.6 ms; 1024^3 (one k block either
    // way) unchanged. (Not measured on Intel, where the AMX kernels take the long reductions.)
    if (u->isa == Isa::avx512)
        blk.kc = kBlocksS8.kc_max, blk.mc = std::max(u->mr, 512 / u->mr * u->mr), blk.nc = std::max(u->nr, 4096 / u->nr * u->nr);
    // Block overrides of the engine (tests' tiny blocks, a user's configure) apply to int8 too.
    const Engine<float>& e = engine<float>();
    const Blocking& f = e.cands.front().blk;
    if (e.origin.mc != "derived") blk.mc = std::max(u->mr, f.mc / u->mr * u->mr);
    if (e.origin.kc != "derived") blk.kc = round_up(f.kc, 4);
    if (e.origin.nc != "derived") blk.nc = std::max(u->nr, f.nc / u->nr * u->nr);
    blk.kc = round_up(blk.kc, 4);
    return {u, blk, host_uarch().grid_stream_weight, e.origin.mc == "derived", e.origin.kc == "derived"};
}

namespace {

// sum_p (v(i, p) ^ flip) for i < m, v(i, p) at x[i*rs + p*cs] read as E, in the memory order of x
// (the inner loop along the smaller stride: qgemm's b has the channels contiguous, a conv's
// weights the reduction), wrapping like int32: the weights' column sums. qgemm computes them on
// every call that packs its weights: rows in order are summed in int16 over 128 rows at a time
// (|v| <= 255, 128 * 255 < 2^15) and widened once per block, so that the vector loop adds 32 bytes
// per instruction, compiled per target below (x86-64-v4: AVX512-BW for 16-bit lanes in zmm).
// 1024^3 qgemm, 1 thread, Emerald Rapids: the baseline build's SSE2 int32 loop took 0.1 ms of 1.07.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define KERNELS_SUMS_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define KERNELS_SUMS_CLONES
#endif
template <typename E>
KERNELS_SUMS_CLONES void sums(dim_t m, dim_t k, const E* x, inc_t rs, inc_t cs, std::uint8_t flip, std::int32_t* out) {
    if (std::llabs(rs) <= std::llabs(cs)) {
        std::vector<std::uint32_t> acc(static_cast<std::size_t>(m), 0u);
        std::vector<std::int16_t> part(static_cast<std::size_t>(m));
        for (dim_t p0 = 0; p0 < k; p0 += 128) {
            std::fill(part.begin(), part.end(), std::int16_t{0});
            for (dim_t p = p0; p < std::min(k, p0 + 128); ++p) {
                const E* row = x + p * cs;
                if (rs == 1) {
                    for (dim_t i = 0; i < m; ++i)
                        part[i] = static_cast<std::int16_t>(part[i] + static_cast<E>(static_cast<std::uint8_t>(row[i]) ^ flip));
                } else {
                    for (dim_t i = 0; i < m; ++i)
                        part[i] = static_cast<std::int16_t>(part[i] + static_cast<E>(static_cast<std::uint8_t>(row[i * rs]) ^ flip));
                }
            }
            for (dim_t i = 0; i < m; ++i) acc[i] += static_cast<std::uint32_t>(static_cast<std::int32_t>(part[i]));
        }
        for (dim_t i = 0; i < m; ++i) out[i] = static_cast<std::int32_t>(acc[i]);
        return;
    }
    for (dim_t i = 0; i < m; ++i) {
        std::uint32_t s = 0;
        for (dim_t p = 0; p < k; ++p) s += static_cast<std::uint32_t>(static_cast<E>(static_cast<std::uint8_t>(x[i * rs + p * cs]) ^ flip));
        out[i] = static_cast<std::int32_t>(s);
    }
}

}  // namespace

void qweight_sums(dim_t m, dim_t k, const std::int8_t* a, inc_t rs, inc_t cs, bool a_unsigned, std::int32_t* out) {
    sums<std::int8_t>(m, k, a, rs, cs, a_unsigned ? 0x80 : 0, out);
}


dim_t packed_qweights_k(const QUkernel& u, dim_t k) {
    const dim_t granule = u.wide_rows ? std::max(u.k_granule, u.wide_rows->k_granule) : u.k_granule;
    return round_up(std::max<dim_t>(k, 1), 4 * granule);
}

AlignedVector<std::int8_t> pack_qweights(const QUkernel& u, dim_t m, dim_t k, const std::int8_t* a, inc_t rs, inc_t cs,
                                       bool a_unsigned) {
    // Panel by panel at the padded length; the vector's zeros stay past k (and in the
    // kPackedReadSlack bytes: what a kernel with a k granule reads past the last panel).
    const dim_t kp = packed_qweights_k(u, k);
    AlignedVector<std::int8_t> out(static_cast<std::size_t>(round_up(m, u.mr) * kp) + kPackedReadSlack);
    for (dim_t i = 0; i < m && k > 0; i += u.mr)
        u.pack_a(std::min(u.mr, m - i), k, a + i * rs, rs, cs, a_unsigned ? 0x80 : 0, out.data() + i * kp);
    return out;
}

void qgemm(const QGemmArgs& g, const QCandidate& cand, int nthreads) {
    if (g.m <= 0 || g.n <= 0) return;
    if (g.rs_b == 1 && g.k % 4 && !g.b_quads_readable && !g.b_signed && g.cs_b >= g.k && g.n > 1) {
        // Pixel rows with k not whole quads (the stem's 147 channels as a bare GEMM or a 1x1 layer
        // on NHWC): every row but the last may be read to its whole last quad, whose bytes past k
        // lie inside the matrix's span (up to the next row's start) and meet the zero weights past
        // k. The unpacked (AMX) path then runs them; before, every row was packed for the
        // vpdpbusd kernel (12544x147x64 as a prepacked 1x1 layer: 34% of its time in the packing).
        QGemmArgs head = g, last = g;
        head.n = g.n - 1, head.b_quads_readable = true, head.b_readable = g.cs_b + g.k;
        qgemm(head, cand, nthreads);
        last.n = 1, last.b += head.n * g.cs_b;
        last.c = static_cast<char*>(g.c) + head.n * g.cs_c * qelem_size(g.mode);
        if (last.res) last.res += head.n * g.cs_r;
        if (last.skip) last.skip += head.n * g.cs_s;
        return qgemm(last, cand, nthreads);
    }
    const QUkernel& u = *cand.ukr;
    const std::uint32_t za = static_cast<std::uint32_t>(g.x_zp + (g.b_signed ? 128 : 0));
    // Per-channel vectors, padded to whole kernel tiles (the vector epilogue reads MR lanes).
    const dim_t mp = round_up(g.m, u.mr);
    std::vector<std::int32_t> zw(mp, 0), row_add(mp, 0), colsum(mp, 0);
    bool any_zw = false;
    for (dim_t i = 0; i < g.m; ++i) {
        zw[i] = g.w_zp[i] - (g.a_unsigned ? 128 : 0);
        any_zw = any_zw || zw[i] != 0;
    }
    if (g.colsum) std::copy(g.colsum, g.colsum + g.m, colsum.begin());
    else qweight_sums(g.m, g.k, g.a, g.rs_a, g.cs_a, g.a_unsigned, colsum.data());
    for (dim_t i = 0; i < g.m; ++i) {
        std::uint32_t v = g.bias ? static_cast<std::uint32_t>(g.bias[i]) : 0u;
        v -= za * static_cast<std::uint32_t>(colsum[i]);
        v += static_cast<std::uint32_t>(g.k) * za * static_cast<std::uint32_t>(zw[i]);
        row_add[i] = static_cast<std::int32_t>(v);
    }
    std::vector<float> mult;
    if (g.mode != QMode::i32) {
        mult.assign(mp, 0.0f);
        std::copy(g.mult, g.mult + g.m, mult.begin());
    }
    // Pixel sums of the shifted activations: needed only for nonzero weight zero points.
    std::vector<std::int32_t> col_sum;
    if (any_zw) {
        col_sum.assign(round_up(g.n, u.nr), 0);  // filled while the activations are packed (StridedQB)
    }
    QEpilogue ep;
    ep.mode = g.mode;
    ep.row_add = row_add.data();
    ep.row_zw = any_zw ? zw.data() : nullptr;
    ep.col_sum = any_zw ? col_sum.data() : nullptr;
    ep.mult = mult.empty() ? nullptr : mult.data();
    ep.res = g.res, ep.rs_r = g.rs_r, ep.cs_r = g.cs_r;
    ep.inv_out_scale = g.inv_out_scale, ep.act = g.act, ep.hi = g.hi, ep.out_zp = g.out_zp;
    ep.skip = g.skip, ep.rs_s = g.rs_s, ep.cs_s = g.cs_s, ep.add_ra = g.add_ra, ep.add_rb = g.add_rb, ep.add_k = g.add_k;
    const dim_t es = qelem_size(g.mode);
    char* c = static_cast<char*>(g.c);
    if (g.k <= 0) {  // no products: the bias and the epilogue alone
        for (dim_t j = 0; j < g.n; ++j)
            for (dim_t i = 0; i < g.m; ++i)
                qstore_one(row_add[i], ep, i, g.res ? g.res + i * g.rs_r + j * g.cs_r : nullptr,
                           g.skip ? g.skip + i * g.rs_s + j * g.cs_s : nullptr,
                           c + (i * g.rs_c + j * g.cs_c) * es);
        return;
    }
    QTiles t{g.m, g.n, g.k, c, g.rs_c, g.cs_c, es, nullptr, 0, 0, ep};
    if (g.k > cand.blk.kc) {  // several k blocks: int32 partial sums between them
        if (g.mode == QMode::i32) {
            t.part = static_cast<std::int32_t*>(g.c), t.rs_p = g.rs_c, t.cs_p = g.cs_c;
        } else {
            t.part = static_cast<std::int32_t*>(workspace(static_cast<std::size_t>(g.m * g.n) * 4, Slot::reorder));
            t.rs_p = 1, t.cs_p = g.m;
        }
    }
    begin_product();  // AMX configurations are reloaded once per product (arch/product_generation.hpp)
    // Unpacked activations where the kernel can read them as they are: rows of u8 bytes (unit k
    // stride), whole quads readable, and no per-pixel sums wanted (packing computes those).
    const bool rows = u.kernel_rows && g.rs_b == 1 && !g.b_signed && !any_zw && (g.k % 4 == 0 || g.b_quads_readable) &&
                      g_unpacked_b.load(std::memory_order_relaxed);
    if (rows) {
        // Long reductions on the wide-tile variant where it runs (AMX: 2x2 tiles of 32 pixels x 32
        // channels); same MR and packed weights, so prepacked weights serve both.
        QCandidate rc = cand;
        const QUkernel* w = u.wide_rows;
        if (w && g.k >= u.wide_min_k && (!w->cpu_runs || w->cpu_runs())) {
            rc.ukr = w;
            // Threads split the pixels rather than the channels (choose_grid's streaming term
            // weighted 64, not the float engine's 4): tile loads of activation rows that the other
            // core wrote (the lowering's or the last layer's threads) came through L3, and with
            // the channels split each thread read every row. 2 threads, Emerald Rapids, ResNet-50's
            // 28x28 3x3 layer: 0.138 -> 0.078 ms; 28x28 1x1 512->128: 0.071 -> 0.049.
            rc.grid_stream_weight = 64;
            // KC the rule's largest (4096), not L1's share for the 12-pixel panels (2048): the tiles
            // stream both operands from L2 anyway, and a second k block stores and reloads every
            // C tile. 1 thread, Emerald Rapids, aligned rows, prepacked: ResNet-50's 14x14 3x3
            // (k = 2304) 94-98 -> 83-86 us, 7x7 3x3 (k = 4608) 158 -> 153 us; 1024^3 unchanged.
            if (rc.kc_derived) rc.blk.kc = kBlocksS8.kc_max;
            // Its A block (MC channels x KC) in half of L2, not a quarter: the tiles stream both
            // operands from L2 and each weight panel is reused across more pixel tiles (1024^3 on
            // Emerald Rapids: MC 256 1464 GOP/s, 512 1559, 1024 1584, with KC = k).
            if (rc.mc_derived) {
                const dim_t kc = std::min(rc.blk.kc, round_up(g.k, 4));
                const dim_t l2 = static_cast<dim_t>(cache_sizes().l2);
                rc.blk.mc = std::clamp<dim_t>(l2 / 2 / kc / w->mr * w->mr, w->mr, 1024);
            }
        }
        const QUkernel& ru = *rc.ukr;
        const int nt = useful_qthreads(g.m, g.n, g.k, ru, nthreads);
        t.ldb = g.cs_b;
        t.zero_to = g.b_zero_to;
        t.readable = g.b_readable;
        if (g.a_packed && g.a_packed_mr == ru.mr) t.a_zero_to = g.a_packed_k;
        // Rows read in place even where they are not 64-byte aligned (a NumPy array's data starts 16
        // bytes into a cache line, so each tile row then spans two): copying them per block into
        // whole lines cost more than the split loads save. 1 thread, Emerald Rapids, prepacked,
        // copied / in place: 3136 x 576 x 64 206 / 158 us, 196 x 2304 x 256 108 / 99, 1024^3 815 / 773.
        if (g.a_packed && g.a_packed_mr == ru.mr)
            run_blocked_t<S8RowsTraits>(t, PrepackedQA{g.a_packed, ru.mr, g.a_packed_k}, RowsQB{g.b, g.cs_b, ru.nr},
                                        rc, nt);
        else
            run_blocked_t<S8RowsTraits>(
                t, StridedQA{g.a, g.rs_a, g.cs_a, static_cast<std::uint8_t>(g.a_unsigned ? 0x80 : 0)},
                RowsQB{g.b, g.cs_b, ru.nr}, rc, nt);
        return;
    }
    const int nt = useful_qthreads(g.m, g.n, g.k, u, nthreads);
    const StridedQB B{g.b, g.rs_b, g.cs_b, static_cast<std::uint8_t>(g.b_signed ? 0x80 : 0),
                      any_zw ? col_sum.data() : nullptr};
    if (g.a_packed && g.a_packed_mr == u.mr)
        run_blocked_t<S8Traits>(t, PrepackedQA{g.a_packed, u.mr, g.a_packed_k}, B, cand, nt);
    else
        run_blocked_t<S8Traits>(t, StridedQA{g.a, g.rs_a, g.cs_a, static_cast<std::uint8_t>(g.a_unsigned ? 0x80 : 0)}, B,
                                cand, nt);
}

}  // namespace kernels
