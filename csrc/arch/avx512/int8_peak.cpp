// int8 peak probe for AVX512-VNNI: the single-thread vpdpbusd throughput (the roofline ceiling of
// the int8 GEMM), as fma_peak.cpp measures the FMA peak. Each vpdpbusd on a zmm does 64 u8 x s8
// products and their sums: 128 integer operations. Timed in the thread's CPU time, not wall time:
// on a shared machine (this one runs other jobs) wall time counts the slices others ran.
#include <immintrin.h>

#include <ctime>

#include "avx512.hpp"

namespace kernels {
namespace avx512 {

__attribute__((target("avx512f,avx512vnni"))) double int8_peak(double seconds) {
    // 16 independent chains cover vpdpbusd's latency (4-5 cycles) x its ports on current cores.
    constexpr int kChains = 16;
    __m512i acc[kChains];
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_epi32(i);
    const __m512i x = _mm512_set1_epi32(0x01020304), y = _mm512_set1_epi32(0x01FF7F80);
    long iters = 0;
    const auto now = [] {
        timespec t;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
    };
    const double t0 = now();
    double elapsed = 0.0;
    do {
        for (int rep = 0; rep < 4096; ++rep) {
#pragma GCC unroll 16
            for (int i = 0; i < kChains; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], x, y);
            // (an empty asm that takes the accumulators keeps the compiler from folding the chain)
            __asm__ volatile("" : "+v"(acc[0]), "+v"(acc[1]), "+v"(acc[2]), "+v"(acc[3]));
        }
        iters += 4096;
        elapsed = now() - t0;
    } while (elapsed < seconds);
    __m512i sum = acc[0];
    for (int i = 1; i < kChains; ++i) sum = _mm512_add_epi32(sum, acc[i]);
    alignas(64) int sink[16];
    _mm512_store_si512(sink, sum);
    volatile int keep = sink[0];
    (void)keep;
    return 128.0 * kChains * static_cast<double>(iters) / elapsed * 1e-9;
}

}  // namespace avx512
}  // namespace kernels
