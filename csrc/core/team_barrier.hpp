// The barrier between the threads of one blocked product: spin briefly, then yield the core; never
// sleep in the kernel. Replaces `#pragma omp barrier` inside run_blocked (gemm/driver.hpp).
//
// Why not libgomp's barrier: it spins GOMP_SPINCOUNT iterations and then sleeps on a futex, and
// hpc_kernels sets GOMP_SPINCOUNT=1000 (~20 us; kernels/_config.py) so that idle teams release
// their cores at once on a busy workflow node. Inside a product that is far too short: the threads
// of one (jc, pc) block finish a few tens of microseconds apart, the early one falls asleep, and its
// wake-up goes through the kernel and, on a VM, through the hypervisor (a halted vCPU). Measured on
// Zen 5 (2 vCPUs, benchmarks/gemm_vs_refs.py --isolate, calls 50 ms apart): n = 1024 on 2 threads
// took 9.3 ms (sgemm) / 19.8 ms (dgemm) with 1000 spins, 5.3 / 10.4 ms with 100000: the sleeps at
// the barriers, not the first wake of the call, cost the difference.
//
// Here a waiting thread spins up to kSpins pauses (~20-60 us, longer than the usual imbalance),
// then calls sched_yield in a loop: on an idle core that is a slower spin, on an oversubscribed one
// it hands the core to a runnable thread, often the very one it waits for. Between calls the team
// still goes idle under libgomp's own short spin, so neighbours get the cores back as before.
#pragma once

#include <atomic>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace kernels {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// A sense-reversing centralized barrier for a team of `n` threads that all call wait(). One per
// parallel region; each thread keeps its own sense (starts false).
class TeamBarrier {
public:
    static constexpr int kSpins = 2000;

    explicit TeamBarrier(int n) : n_(n) {}

    void wait(bool& local_sense) {
        local_sense = !local_sense;
        if (arrived_.fetch_add(1, std::memory_order_acq_rel) == n_ - 1) {
            arrived_.store(0, std::memory_order_relaxed);
            sense_.store(local_sense, std::memory_order_release);  // releases everyone's writes
            return;
        }
        for (int i = 0; i < kSpins; ++i) {
            if (sense_.load(std::memory_order_acquire) == local_sense) return;
            cpu_relax();
        }
        while (sense_.load(std::memory_order_acquire) != local_sense) std::this_thread::yield();
    }

private:
    const int n_;
    alignas(64) std::atomic<int> arrived_{0};
    alignas(64) std::atomic<bool> sense_{false};
};

}  // namespace kernels
