// Work-schedule cases of the native engine test: StealRanges (core/schedule.hpp) hands out every
// unit exactly once, whatever the count and the thread count, drained by one thread or by a team
// at once; a thread takes its own range first, in order, then the others' from their backs. The
// driver's row units (gemm/driver.hpp RowUnits) cover each thread's static share exactly, and
// choose_grid weighs the column split's repacked A.
#include <algorithm>
#include <string>
#include <vector>

#include "../core/schedule.hpp"
#include "../gemm/driver.hpp"
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

    // RowUnits: thread t's units t*per .. (t+1)*per - 1 tile its static share (split() of the MR-row
    // panels) in order, without gaps, none over MC rows where MC is a multiple of MR.
    for (const dim_t m : {1, 31, 32, 100, 1000, 1024, 2048, 3000})
        for (const dim_t mc : {32, 128, 512})
            for (const int nt : {1, 2, 3, 4}) {
                const dim_t mr = 32;
                const kernels::RowUnits units(m, mr, mc, nt);
                const dim_t per = units.count() / nt;
                bool ok = units.count() % nt == 0 && per >= 3;
                for (int t = 0; t < nt && ok; ++t) {
                    dim_t p0, p1;
                    kernels::split(kernels::ceil_div(m, mr), nt, t, &p0, &p1);
                    dim_t at = p0 * mr;
                    for (dim_t u = t * per; u < (t + 1) * per; ++u) {
                        dim_t r0, r1;
                        units.range(u, &r0, &r1);
                        ok = ok && r0 == at && r1 >= r0 && r1 - r0 <= mc;
                        at = r1;
                    }
                    ok = ok && at == std::min(m, p1 * mr);
                }
                ++grp.cases;
                if (!ok) {
                    ++grp.failed;
                    grp.note("RowUnits m " + std::to_string(m) + ", MC " + std::to_string(mc) + ", " +
                             std::to_string(nt) + " threads");
                }
            }

    // choose_grid: m = n = 1024 with a 32 x 12 kernel at 2 threads ties on FMA lanes; the stream term
    // takes the column split while it packs A once, the row split once the column units pack it 4 times.
    {
        const kernels::Grid once = kernels::choose_grid(2, 1024, 1032, 32, 12, 4, false, 1);
        const kernels::Grid four = kernels::choose_grid(2, 1024, 1032, 32, 12, 4, false, 4);
        ++grp.cases;
        if (!(once.tm == 1 && once.tn == 2 && four.tm == 2 && four.tn == 1)) {
            ++grp.failed;
            grp.note("choose_grid with A packed per column unit");
        }
    }
}

}  // namespace kernels_test
