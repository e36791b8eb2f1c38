// The process-wide work schedule of the cpu engine's threads (schedule.hpp says why dynamic).
#include "schedule.hpp"

namespace kernels {

namespace {
std::atomic<Schedule> g_schedule{Schedule::Dynamic};
}

void set_schedule(Schedule s) { g_schedule.store(s, std::memory_order_relaxed); }

Schedule schedule() { return g_schedule.load(std::memory_order_relaxed); }

}  // namespace kernels
