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
    alignas(64) float acc[kMR * kNR];
#pragma GCC unroll 12
    for (int j = 0; j < kNR; ++j) _mm512_store_ps(acc + j * kMR, c0[j]), _mm512_store_ps(acc + j * kMR + 16, c1[j]);
    bstore_tile<kMR>(acc, g, i0, j0, m, n, first_k, last_k);
}

// __builtin_cpu_supports knows no "avx512bf16" in every GCC: CPUID leaf 7 subleaf 1, EAX bit 5.
bool cpu_has_avx512bf16() {
    unsigned a = 0, b = 0, c = 0, d = 0;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(1));
    return (a >> 5) & 1u;
}

}  // namespace

const BUkernel ukr_bf16_avx512bf16_32x12 = {"ukr_bf16_avx512bf16_32x12", Isa::avx512, kMR, kNR, 2,
                                            &avx512bf16_bukr, &bpack_a_pairs<kMR>, &bpack_b_pairs<kNR>,
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
    constexpr int kChains = 16;  // covers its latency (about 6 cycles) x 2 ports
    __m512 acc[kChains];
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
    const __m512bh x = (__m512bh)_mm512_set1_epi32(0x3f803f80), y = (__m512bh)_mm512_set1_epi32(0x3c003c00);
    long iters = 0;
    const double t0 = thread_seconds();
    double elapsed = 0.0;
    do {
        for (int rep = 0; rep < 4096; ++rep) {
#pragma GCC unroll 16
            for (int i = 0; i < kChains; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], x, y);
            __asm__ volatile("" : "+v"(acc[0]), "+v"(acc[1]), "+v"(acc[2]), "+v"(acc[3]));
        }
        iters += 4096;
        elapsed = thread_seconds() - t0;
    } while (elapsed < seconds);
    __m512 sum = acc[0];
    for (int i = 1; i < kChains; ++i) sum = _mm512_add_ps(sum, acc[i]);
    alignas(64) float sink[16];
    _mm512_store_ps(sink, sum);
    volatile float keep = sink[0];
    (void)keep;
    return 64.0 * kChains * static_cast<double>(iters) / elapsed * 1e-9;
}

}  // namespace avx512
}  // namespace kernels
