// FMA-throughput probe: the machine's floating-point peak per core, the roofline ceiling that the
// GEMM is measured against. Included only by the per-ISA fma_peak.cpp files (compiled with ISA flags).
#pragma once

#include <chrono>

namespace kernels {
namespace {

// GFLOP/s of one thread issuing independent vector FMAs for about `seconds`. 16 accumulator chains
// cover FMA latency x ports on every current x86 core (4-5 cycles x 2 ports needs >= 10).
template <class V>
double fma_throughput(double seconds) {
    using R = typename V::R;
    using T = typename V::T;
    constexpr int kChains = 16;
    R acc[kChains];
    for (int i = 0; i < kChains; ++i) acc[i] = V::set1(T(i) * T(1e-3));
    const R x = V::set1(T(0.999999)), y = V::set1(T(1e-7));
    long iters = 0;
    const auto t0 = std::chrono::steady_clock::now();
    double elapsed = 0.0;
    do {
        for (int rep = 0; rep < 4096; ++rep)
#pragma GCC unroll 16
            for (int i = 0; i < kChains; ++i) acc[i] = V::fma(acc[i], x, y);
        iters += 4096;
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } while (elapsed < seconds);
    alignas(64) T sink[V::W];
    R sum = acc[0];
    for (int i = 1; i < kChains; ++i) sum = V::fma(sum, x, acc[i]);
    V::store_aligned(sink, sum);
    volatile T keep = sink[0];  // the accumulators are live: the loop cannot be removed
    (void)keep;
    return 2.0 * V::W * kChains * static_cast<double>(iters) / elapsed * 1e-9;
}

}  // namespace
}  // namespace kernels
