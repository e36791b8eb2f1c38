// How the threads of one blocked product share its work: a split fixed in advance (static) or
// units handed out at run time from a shared counter (dynamic, the default).
//
// Why dynamic: the cores a process gets are not equally fast from moment to moment. On a cloud VM
// each vCPU is a hardware thread whose sibling runs another tenant; measured on a 2-vCPU Zen 4 VM
// (12 independent AVX-512 FMA chains per core, 10 ms samples), each core's rate alone varied
// 1.0-1.9x, independently of the other, in 60% of the samples more than 1.15x apart. A static
// split waits for the slower core, a counter lets the faster one take more units: the int8
// ResNet-50 at 2 threads ran 14-25 ms from run to run against onnxruntime's 13-14 ms, whose
// thread pool hands out blocks the same way. The same holds on an oversubscribed node, where a
// core is shared with another process. The price is an atomic add per unit and, where the units
// are column chunks, re-reading the A block per chunk (units are kept large enough for that to be
// small: gemm/driver.hpp). KERNELS_CPU_SCHEDULE=static restores the split.
#pragma once

#include <atomic>

#include "common.hpp"

namespace kernels {

enum class Schedule { Static, Dynamic };

// Process-wide; read at the start of each product.
void set_schedule(Schedule s);
Schedule schedule();

// Units [0, count) handed out one at a time to the threads that call next(); on a cache line of its
// own so that the threads' grabs do not share a line with anything they write.
class WorkCounter {
public:
    dim_t next() { return next_.fetch_add(1, std::memory_order_relaxed); }
    void reset() { next_.store(0, std::memory_order_relaxed); }

private:
    alignas(64) std::atomic<dim_t> next_{0};
    char pad_[64 - sizeof(std::atomic<dim_t>)] = {};
};

}  // namespace kernels
