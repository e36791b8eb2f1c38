// How the threads of one blocked product share its work: a split fixed in advance (static) or
// units handed out at run time (dynamic, the default): from a shared counter, or, for the row
// units of a product whose threads share one B block, from ranges each thread owns (StealRanges).
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
#include <cstdint>
#include <vector>

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

// Units [0, count) split into nt contiguous ranges as the static split makes them; thread t takes
// its own range from the front and, once that is done, the other ranges' units from their backs.
// Why not one shared counter: with it the threads take neighbouring units in turn, and float64
// products at n = 4096 on 2 Zen 4 threads fell into runs of 86-91 GFLOP/s (in 3 processes, 8 of 15
// samples) where the static split and these ranges stayed at 95-105 (OpenBLAS 103-108; the same
// processes, modes alternating per call); owned ranges keep each thread on rows of its own as the
// static split does, and still hand a slowed thread's rows to the other: with a busy loop on one of
// the two cores, sgemm n = 2048 ran 138-146 GFLOP/s (the counter 139-147, static 104-106).
class StealRanges {
public:
    // Sets the ranges; call while no thread takes from them.
    void reset(dim_t count, int nt);
    // The next unit for thread tid (< nt), or -1 when every range is empty.
    dim_t next(int tid);

private:
    // front in the low 32 bits, back (one past the last unit) in the high 32, on a line of its own.
    struct alignas(64) Range {
        std::atomic<std::uint64_t> fb{0};
    };
    std::vector<Range> ranges_;
};

}  // namespace kernels
