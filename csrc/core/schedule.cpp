// The process-wide work schedule of the cpu engine's threads (schedule.hpp says why dynamic).
#include "schedule.hpp"

#include <algorithm>

namespace kernels {

namespace {
std::atomic<Schedule> g_schedule{Schedule::Dynamic};
}

void set_schedule(Schedule s) { g_schedule.store(s, std::memory_order_relaxed); }

Schedule schedule() { return g_schedule.load(std::memory_order_relaxed); }

namespace {
constexpr std::uint64_t pack(dim_t front, dim_t back) {
    return static_cast<std::uint64_t>(front) | (static_cast<std::uint64_t>(back) << 32);
}
}  // namespace

void StealRanges::reset(dim_t count, int nt) {
    if (static_cast<int>(ranges_.size()) != nt) ranges_ = std::vector<Range>(static_cast<std::size_t>(nt));
    const dim_t q = count / nt, r = count % nt;  // split()'s shares: the first r ranges one unit longer
    for (int t = 0; t < nt; ++t) {
        const dim_t lo = t * q + std::min<dim_t>(t, r), hi = lo + q + (t < r ? 1 : 0);
        ranges_[static_cast<std::size_t>(t)].fb.store(pack(lo, hi), std::memory_order_relaxed);
    }
}

dim_t StealRanges::next(int tid) {
    const int nt = static_cast<int>(ranges_.size());
    for (int i = 0; i < nt; ++i) {
        const int v = (tid + i) % nt;
        std::atomic<std::uint64_t>& fb = ranges_[static_cast<std::size_t>(v)].fb;
        std::uint64_t cur = fb.load(std::memory_order_relaxed);
        for (;;) {
            const dim_t front = static_cast<dim_t>(cur & 0xffffffffu), back = static_cast<dim_t>(cur >> 32);
            if (front >= back) break;
            // Its own range from the front, another's from the back (the owner works up from its front).
            const std::uint64_t want = i == 0 ? pack(front + 1, back) : pack(front, back - 1);
            if (fb.compare_exchange_weak(cur, want, std::memory_order_relaxed)) return i == 0 ? front : back - 1;
        }
    }
    return -1;
}

}  // namespace kernels
