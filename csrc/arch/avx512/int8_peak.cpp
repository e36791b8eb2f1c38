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
    // 12 independent chains (vpdpbusd's latency, 4-5 cycles, x its ports on current cores), in
    // asm: with intrinsics GCC copied and spilled the accumulators between the instructions.
    __m512i a0 = _mm512_set1_epi32(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0,
            a9 = a0, a10 = a0, a11 = a0;
    const __m512i x = _mm512_set1_epi32(0x01020304), y = _mm512_set1_epi32(0x01FF7F80);
    const auto now = [] {
        timespec t;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
    };
    long iters = 0;
    const double t0 = now();
    double elapsed = 0.0;
    do {
        for (int rep = 0; rep < 4096; ++rep)
            __asm__ volatile(
                "vpdpbusd %[y], %[x], %[a0]\n\tvpdpbusd %[y], %[x], %[a1]\n\tvpdpbusd %[y], %[x], %[a2]\n\t"
                "vpdpbusd %[y], %[x], %[a3]\n\tvpdpbusd %[y], %[x], %[a4]\n\tvpdpbusd %[y], %[x], %[a5]\n\t"
                "vpdpbusd %[y], %[x], %[a6]\n\tvpdpbusd %[y], %[x], %[a7]\n\tvpdpbusd %[y], %[x], %[a8]\n\t"
                "vpdpbusd %[y], %[x], %[a9]\n\tvpdpbusd %[y], %[x], %[a10]\n\tvpdpbusd %[y], %[x], %[a11]"
                : [a0] "+v"(a0), [a1] "+v"(a1), [a2] "+v"(a2), [a3] "+v"(a3), [a4] "+v"(a4), [a5] "+v"(a5),
                  [a6] "+v"(a6), [a7] "+v"(a7), [a8] "+v"(a8), [a9] "+v"(a9), [a10] "+v"(a10), [a11] "+v"(a11)
                : [x] "v"(x), [y] "v"(y));
        iters += 4096;
        elapsed = now() - t0;
    } while (elapsed < seconds);
    __m512i sum = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)),
                                   _mm512_add_epi32(_mm512_add_epi32(a4, a5), _mm512_add_epi32(a6, a7)));
    sum = _mm512_add_epi32(sum, _mm512_add_epi32(_mm512_add_epi32(a8, a9), _mm512_add_epi32(a10, a11)));
    alignas(64) int sink[16];
    _mm512_store_si512(sink, sum);
    volatile int keep = sink[0];
    (void)keep;
    return 128.0 * 12 * static_cast<double>(iters) / elapsed * 1e-9;
}

}  // namespace avx512
}  // namespace kernels
