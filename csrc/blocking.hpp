// Cache block sizes MC/KC/NC of the five-loop GEMM, derived from the cache sizes or overridden.
#pragma once

#include "common.hpp"
#include "cpu_info.hpp"

namespace kernels {

struct Blocking {
    dim_t mc, kc, nc;  // mc a multiple of MR, nc a multiple of NR
};

// The analytical model of Low et al. (BLIS, TOMS 2016), simplified:
//   KC: one KC x NR micro-panel of B stays in L1 while A micro-panels stream past it: half of L1.
//   MC: the MC x KC block of packed A stays in L2, leaving room for B panels and C lines: half of L2.
//   NC: the KC x NC panel of packed B stays in a share of L3; capped so that the B panel and its
//       packing stay cheap relative to compute and many-core L3s are not assumed to be private.
Blocking derive_blocking(dim_t mr, dim_t nr, dim_t elem_size, const CacheSizes& caches);

// Overrides (0 = keep derived), rounded to the micro-tile so every block holds whole micro-panels.
Blocking apply_overrides(Blocking derived, dim_t mr, dim_t nr, dim_t mc, dim_t kc, dim_t nc);

}  // namespace kernels
