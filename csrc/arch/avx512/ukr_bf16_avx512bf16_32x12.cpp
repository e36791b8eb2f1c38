// bf16 micro-kernel for AVX512-BF16: 32x12 tile, 2 vectors of 16 fp32 lanes x 12 broadcast
// columns, one vdpbf16ps per vector and column per k pair (each lane: acc += a0*b0 + a1*b1; 24
// accumulators, 2 A vectors, 1 broadcast: 27 of 32 registers, like ukr_s8_avx512vnni_32x12). The
// fp32 tile then goes through the bf16 store (arch/btile_store.hpp) compiled here, with AVX-512.
#include <immintrin.h>

#include <cstring>
#include <ctime>

#include "avx512.hpp"
#include "../btile_store.hpp"
#include "../../gemm/bpacking.hpp"

// BF16 beyond the folder's -mavx512f: only this kernel and its probe need it, and they run only
// where the table's check (cpu_runs below) saw avx512bf16.
#define KERNELS_BF16 __attribute__((target("avx512f,avx512bf16")))

namespace kernels {
namespace {

constexpr int kMR = 32, kNR = 12;

KERNELS_BF16 void avx512bf16_bukr(dim_t pairs, const void* KERNELS_RESTRICT av, const void* KERNELS_RESTRICT bv,
                                  const BTiles& g, dim_t i0, dim_t j0, dim_t m, dim_t n, bool first_k, bool last_k) {
    const auto* a = static_cast<const std::uint16_t*>(av);
    const auto* b = static_cast<const std::uint16_t*>(bv);
    __m512 c0[kNR], c1[kNR];
#pragma GCC unroll 12
    for (int j = 0; j < kNR; ++j) c0[j] = _mm512_setzero_ps(), c1[j] = _mm512_setzero_ps();
    for (dim_t q = 0; q < pairs; ++q) {
        const __m512bh a0 = (__m512bh)_mm512_loadu_si512(a);
        const __m512bh a1 = (__m512bh)_mm512_loadu_si512(a + 32);
#pragma GCC unroll 12
        for (int j = 0; j < kNR; ++j) {
            std::int32_t pair;
            std::memcpy(&pair, b + 2 * j, 4);
            const __m512bh bb = (__m512bh)_mm512_set1_epi32(pair);
            c0[j] = _mm512_dpbf16_ps(c0[j], a0, bb);
            c1[j] = _mm512_dpbf16_ps(c1[j], a1, bb);
        }
        a += 2 * kMR;
        b += 2 * kNR;
    }
    // A whole tile of one k block into unit-stride C with nothing to add (beta 0, no epilogue):
    // stored from the registers. bf16 C only with alpha 1: vcvtne2ps2bf16 rounds to nearest even
    // and quiets NaN as f32_to_bf16 does, but reads subnormal inputs as zero, and only vdpbf16ps's
    // own sums are sure to hold none (it flushes subnormal results to zero), alpha * sum is not.
    // (bstore_tile's way, through a stack tile and a loop per column: 2.5% of 1024^3 at 1 thread.)
    if (first_k && last_k && m == kMR && n == kNR && g.rs_c == 1 && g.beta == 0.0f && !g.ep.active()) {
        if (g.c_bf16 && g.alpha == 1.0f) {
            auto* c = static_cast<std::uint16_t*>(g.c) + i0 + j0 * g.cs_c;
#pragma GCC unroll 12
            for (int j = 0; j < kNR; ++j) _mm512_storeu_si512(c + j * g.cs_c, (__m512i)_mm512_cvtne2ps_pbh(c1[j], c0[j]));
            return;
        }
        if (!g.c_bf16) {
            float* c = static_cast<float*>(g.c) + i0 + j0 * g.cs_c;
            const __m512 alpha = _mm512_set1_ps(g.alpha);
#pragma GCC unroll 12
            for (int j = 0; j < kNR; ++j)
                _mm512_storeu_ps(c + j * g.cs_c, _mm512_mul_ps(alpha, c0[j])),
                    _mm512_storeu_ps(c + j * g.cs_c + 16, _mm512_mul_ps(alpha, c1[j]));
            return;
        }
    }
    alignas(64) float acc[kMR * kNR];
#pragma GCC unroll 12
    for (int j = 0; j < kNR; ++j) _mm512_store_ps(acc + j * kMR, c0[j]), _mm512_store_ps(acc + j * kMR + 16, c1[j]);
    bstore_tile<kMR>(acc, g, i0, j0, m, n, first_k, last_k);
}

// __builtin_cpu_supports knows no "avx512bf16" in every GCC: CPUID leaf 7 subleaf 1, EAX bit 5.
// Read once: every bf16 call asks (bcandidate), and in a VM CPUID traps to the hypervisor (Zen 4
// VM: 5.5 us, where the rest of an 8x8 product's C++ call takes 0.4).
bool cpu_has_avx512bf16() {
    static const bool has = [] {
        unsigned a = 0, b = 0, c = 0, d = 0;
        __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(1));
        return ((a >> 5) & 1u) != 0;
    }();
    return has;
}

}  // namespace

const BUkernel ukr_bf16_avx512bf16_32x12 = {"ukr_bf16_avx512bf16_32x12", Isa::avx512, kMR, kNR, 2,
                                            &avx512bf16_bukr, &bpack_a_pairs<kMR>, &avx512::bpack_b_pairs12,
                                            &cpu_has_avx512bf16};

namespace avx512 {

// The bf16 peak: single-thread vdpbf16ps throughput in GFLOP/s (each zmm instruction does 32
// bf16 products and their 32 additions into 16 lanes: 64 flops), as fma_peak.cpp for FMAs, but
// timed in this thread's CPU time: on a shared machine wall time also counts the time the thread
// spent descheduled (measured here: 36-99 GFLOP/s by wall clock for the same code).
static double thread_seconds() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

KERNELS_BF16 double bf16_peak(double seconds) {
    // 16 independent chains cover its latency (about 6 cycles) x 2 ports. Named variables, not an
    // array: GCC kept an array (and an asm barrier on it) in memory, a store and a reload per step,
    // and measured 235 GFLOP/s where the GEMM itself ran 425.
    const __m512bh x = (__m512bh)_mm512_set1_epi32(0x3f803f80), y = (__m512bh)_mm512_set1_epi32(0x3c003c00);
    __m512 c0 = _mm512_set1_ps(0), c1 = _mm512_set1_ps(1), c2 = _mm512_set1_ps(2), c3 = _mm512_set1_ps(3);
    __m512 c4 = _mm512_set1_ps(4), c5 = _mm512_set1_ps(5), c6 = _mm512_set1_ps(6), c7 = _mm512_set1_ps(7);
    __m512 c8 = _mm512_set1_ps(8), c9 = _mm512_set1_ps(9), c10 = _mm512_set1_ps(10), c11 = _mm512_set1_ps(11);
    __m512 c12 = _mm512_set1_ps(12), c13 = _mm512_set1_ps(13), c14 = _mm512_set1_ps(14), c15 = _mm512_set1_ps(15);
    long iters = 0;
    const double t0 = thread_seconds();
    double elapsed = 0.0;
    do {
        for (int rep = 0; rep < 4096; ++rep) {
#define KERNELS_DP(r) r = _mm512_dpbf16_ps(r, x, y)
            KERNELS_DP(c0), KERNELS_DP(c1), KERNELS_DP(c2), KERNELS_DP(c3), KERNELS_DP(c4), KERNELS_DP(c5);
            KERNELS_DP(c6), KERNELS_DP(c7), KERNELS_DP(c8), KERNELS_DP(c9), KERNELS_DP(c10), KERNELS_DP(c11);
            KERNELS_DP(c12), KERNELS_DP(c13), KERNELS_DP(c14), KERNELS_DP(c15);
#undef KERNELS_DP
        }
        iters += 4096;
        elapsed = thread_seconds() - t0;
    } while (elapsed < seconds);
    __m512 sum = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                               _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
    sum = _mm512_add_ps(sum, _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)),
                                           _mm512_add_ps(_mm512_add_ps(c12, c13), _mm512_add_ps(c14, c15))));
    alignas(64) float sink[16];
    _mm512_store_ps(sink, sum);
    volatile float keep = sink[0];
    (void)keep;
    return 64.0 * 16 * static_cast<double>(iters) / elapsed * 1e-9;
}

}  // namespace avx512
}  // namespace kernels
