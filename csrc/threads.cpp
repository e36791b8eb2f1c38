// Thread-count policy: a process-wide setting synchronised lazily into each caller's OpenMP ICV.
#include "threads.hpp"

#include <atomic>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace kernels {

namespace {
std::atomic<int> g_threads{0};     // 0: never set, keep the OpenMP default
std::atomic<unsigned> g_epoch{0};  // bumped by every set_num_threads
thread_local unsigned t_seen_epoch = 0;
}  // namespace

void set_num_threads(int n) {
    g_threads.store(n < 1 ? 1 : n);
    g_epoch.fetch_add(1);
#ifdef _OPENMP
    omp_set_num_threads(n < 1 ? 1 : n);
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
    return omp_get_max_threads();
#else
    return 1;
#endif
}

}  // namespace kernels
