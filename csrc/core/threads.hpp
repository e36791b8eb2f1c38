// Thread-count policy of the cpu backend, on top of the OpenMP runtime's own setting.
#pragma once

namespace kernels {

// Process-wide thread count (hpc_kernels.set_num_threads). Each calling thread adopts it into its
// OpenMP ICV on its next call, so threadpoolctl, which sets the calling thread's ICV through
// omp_set_num_threads, can still lower it for a scope. Clamped to the bound: 4 x the CPUs this
// process may use, at least 8 (kernels/_threads.py checks it with a ValueError and says why).
void set_num_threads(int n);
// Threads a call made from this thread may use: the calling thread's OpenMP ICV, at most the bound.
int num_threads();
// The count of the calling thread alone (its OpenMP ICV) until it sets another or the process-wide
// count changes; returns the count it had. For a scope that must not change other threads' count
// (concurrent ONNX sessions with different counts): set, run, set the returned value back.
int set_calling_thread_threads(int n);

}  // namespace kernels
