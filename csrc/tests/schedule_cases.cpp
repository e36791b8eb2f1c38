// Work-schedule cases of the native engine test: StealRanges (core/schedule.hpp) hands out every
// unit exactly once, whatever the count and the thread count, drained by one thread or by a team
// at once; a thread takes its own range first, in order, then the others' from their backs.
#include <algorithm>
#include <string>
#include <vector>

#include "../core/schedule.hpp"
#include "suites.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace kernels_test {

namespace {

using kernels::dim_t;

// Whether `taken` holds each unit of [0, count) exactly once.
bool each_once(std::vector<dim_t> taken, dim_t count) {
    std::sort(taken.begin(), taken.end());
    if (static_cast<dim_t>(taken.size()) != count) return false;
    for (dim_t i = 0; i < count; ++i)
        if (taken[static_cast<std::size_t>(i)] != i) return false;
    return true;
}

}  // namespace

void schedule_cases(Group& grp) {
    for (const dim_t count : {0, 1, 2, 3, 5, 43, 1000, 4097})
        for (const int nt : {1, 2, 3, 7}) {
            const std::string what = "count " + std::to_string(count) + ", " + std::to_string(nt) + " threads";
            kernels::StealRanges rg;
            // One thread drains everything: first its own range front to back (split()'s share:
            // the first count % nt ranges one longer), then the others' units from their backs.
            rg.reset(count, nt);
            std::vector<dim_t> taken;
            for (dim_t u = rg.next(0); u >= 0; u = rg.next(0)) taken.push_back(u);
            const dim_t own = count / nt + (count % nt > 0 ? 1 : 0);
            bool in_order = true;
            for (dim_t i = 0; i < std::min<dim_t>(own, static_cast<dim_t>(taken.size())); ++i)
                in_order = in_order && taken[static_cast<std::size_t>(i)] == i;
            ++grp.cases;
            if (!each_once(taken, count) || !in_order) {
                ++grp.failed;
                grp.note("StealRanges drained by one thread: " + what);
            }
            // Reused (reset again) and drained by a team at once, several rounds.
            for (int round = 0; round < 20; ++round) {
                rg.reset(count, nt);
                std::vector<std::vector<dim_t>> per(static_cast<std::size_t>(nt));
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
                for (int t = omp_get_thread_num(); t < nt; t += omp_get_num_threads())
#else
                for (int t = 0; t < nt; ++t)
#endif
                    for (dim_t u = rg.next(t); u >= 0; u = rg.next(t)) per[static_cast<std::size_t>(t)].push_back(u);
                std::vector<dim_t> all;
                for (const auto& v : per) all.insert(all.end(), v.begin(), v.end());
                ++grp.cases;
                if (!each_once(all, count)) {
                    ++grp.failed;
                    grp.note("StealRanges drained by a team: " + what + ", round " + std::to_string(round));
                    break;
                }
            }
        }
}

}  // namespace kernels_test
