// Cache block sizes MC/KC/NC of the five-loop GEMM, derived from the cache sizes or overridden.
#pragma once

#include "common.hpp"
#include "cpu_info.hpp"

namespace kernels {

struct Blocking {
    dim_t mc, kc, nc;  // mc a multiple of MR, nc a multiple of NR
};

// The analytical model of Low et al. (BLIS, TOMS 2016), simplified, then checked by measurement
// (tuning grid over MC x KC x NC at n = 2048 and 4096 on a Sapphire Rapids core, 2 MiB L2):
//   KC: one KC x NR micro-panel of B stays in L1 while A micro-panels stream past it: half of L1.
//   MC: the MC x KC block of packed A stays in L2: a quarter of L2 measured best (the B micro-panel
//       stream, C tiles and the hardware prefetchers use the rest; half of L2 lost 3-5%).
//   NC: the KC x NC panel of packed B lives in L3, capped at 2048 columns: sysfs reports the whole
//       socket's L3 (even a host's, in a VM) while a core's fair share is a few MiB; NC = 4096 lost
//       5-8% at n = 4096 against 2048.
Blocking derive_blocking(dim_t mr, dim_t nr, dim_t elem_size, const CacheSizes& caches);

// Overrides (0 = keep derived), rounded to the micro-tile so every block holds whole micro-panels.
Blocking apply_overrides(Blocking derived, dim_t mr, dim_t nr, dim_t mc, dim_t kc, dim_t nc);

}  // namespace kernels
