// Cache block sizes MC/KC/NC of the five-loop GEMM, derived from the cache sizes or overridden.
#pragma once

#include "common.hpp"
#include "cpu_info.hpp"

namespace kernels {

struct Blocking {
    dim_t mc, kc, nc;  // mc a multiple of MR, nc a multiple of NR
};

// How block sizes follow from the cache sizes for one ISA's kernels: the data of its row in the ISA
// table (arch/table.cpp holds the measured values and how they were measured).
struct BlockRule {
    dim_t kc_l1_div;       // a KC x NR micro-panel of B fills 1/kc_l1_div of L1
    dim_t mc_l2_div;       // the MC x KC block of packed A fills 1/mc_l2_div of L2
    dim_t nc_l3_div;       // the KC x NC block of packed B fills 1/nc_l3_div of L3
    dim_t kc_min, kc_max;  // bounds on KC
    dim_t mc_max;          // bound on MC (before rounding down to MR)
    dim_t nc_min, nc_max;  // bounds on NC (the reported L3 may be a whole socket's, or a host's)
    // Bytes the KC x NC block of B may take, whatever L3 reports (0: no bound). A microarchitecture's
    // measured budget (arch/uarch.cpp): a VM's sysfs reports the host's L3, not the core complex's.
    std::size_t nc_bytes_max = 0;
};

// The analytical model of Low et al. (BLIS, TOMS 2016), simplified, with the rule's shares:
//   KC: one KC x NR micro-panel of B stays in L1 while A micro-panels stream past it.
//   MC: the MC x KC block of packed A stays in L2 (the B micro-panel stream, C tiles and the
//       hardware prefetchers use the rest).
//   NC: the KC x NC panel of packed B lives in L3.
Blocking derive_blocking(dim_t mr, dim_t nr, dim_t elem_size, const CacheSizes& caches, const BlockRule& rule);

// Overrides (0 = keep derived), rounded to the micro-tile so every block holds whole micro-panels.
Blocking apply_overrides(Blocking derived, dim_t mr, dim_t nr, dim_t mc, dim_t kc, dim_t nc);

}  // namespace kernels
