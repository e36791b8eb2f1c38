// Thread-count policy: a process-wide setting synchronised lazily into each caller's OpenMP ICV,
// bounded by a multiple of the CPUs this process may use.
#include "threads.hpp"

#include <algorithm>
#include <atomic>
#include <thread>

#ifdef __linux__
#include <sched.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

namespace kernels {

namespace {
std::atomic<int> g_threads{0};     // 0: never set, keep the OpenMP default
std::atomic<unsigned> g_epoch{0};  // bumped by every set_num_threads
std::atomic<int> g_cap{0};         // 0: not computed yet
[[maybe_unused]] thread_local unsigned t_seen_epoch = 0;  // (read only with OpenMP)

int cpus() {
#ifdef __linux__
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
#endif
    const unsigned n = std::thread::hardware_concurrency();  // beyond 1024 CPUs, or not Linux: all of them
    return n > 0 ? static_cast<int>(n) : 1;
}

// The same rule as kernels/_threads.py max_threads(), which explains it: more threads than CPUs
// never speed these kernels up, and each OpenMP thread reserves a stack and a thread id, so a
// count like 100000 (from OMP_NUM_THREADS or threadpoolctl, which bypass set_num_threads) would
// make libgomp end the process ("Thread creation failed") under a memory or pid limit.
int compute_cap() { return std::max(8, 4 * cpus()); }

[[maybe_unused]] int cap() {  // (called only with OpenMP)
    int c = g_cap.load(std::memory_order_relaxed);
    if (c == 0) g_cap.store(c = compute_cap(), std::memory_order_relaxed);
    return c;
}
}  // namespace

void set_num_threads(int n) {
    // Refreshed here, where hpc_kernels.set_num_threads checked its bound (so they agree); a count
    // beyond it (only a direct hpc_kernels._cpu call, or restoring one from before the CPUs changed)
    // is clamped.
    const int c = compute_cap();
    g_cap.store(c, std::memory_order_relaxed);
    n = std::clamp(n, 1, c);
    g_threads.store(n);
    g_epoch.fetch_add(1);
#ifdef _OPENMP
    omp_set_num_threads(n);
    t_seen_epoch = g_epoch.load();
#endif
}

int num_threads() {
#ifdef _OPENMP
    const unsigned epoch = g_epoch.load(std::memory_order_relaxed);
    if (epoch != t_seen_epoch) {
        t_seen_epoch = epoch;
        if (const int n = g_threads.load()) omp_set_num_threads(n);
    }
    return std::min(omp_get_max_threads(), cap());
#else
    return 1;
#endif
}

int set_calling_thread_threads(int n) {
#ifdef _OPENMP
    const int before = num_threads();  // adopts a pending process-wide change first
    omp_set_num_threads(std::clamp(n, 1, cap()));
    return before;
#else
    (void)n;
    return 1;
#endif
}

}  // namespace kernels
