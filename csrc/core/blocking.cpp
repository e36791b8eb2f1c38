// Block-size derivation from cache sizes (see blocking.hpp for the model).
#include "blocking.hpp"

#include <algorithm>

namespace kernels {

namespace {
dim_t round_down_min(dim_t v, dim_t unit) { return std::max(unit, v / unit * unit); }
}  // namespace

Blocking derive_blocking(dim_t mr, dim_t nr, dim_t s, const CacheSizes& caches, const BlockRule& r) {
    const dim_t l1 = static_cast<dim_t>(caches.l1d), l2 = static_cast<dim_t>(caches.l2);
    const dim_t l3 = static_cast<dim_t>(caches.l3);
    Blocking b;
    // KC a multiple of 8 keeps the unrolled k loop free of remainders on full blocks.
    b.kc = std::clamp<dim_t>(l1 / r.kc_l1_div / (nr * s) / 8 * 8, r.kc_min, r.kc_max);
    b.mc = round_down_min(std::min<dim_t>(l2 / r.mc_l2_div / (b.kc * s), r.mc_max), mr);
    dim_t b_bytes = l3 / r.nc_l3_div;
    if (r.nc_bytes_max) b_bytes = std::min<dim_t>(b_bytes, static_cast<dim_t>(r.nc_bytes_max));
    b.nc = round_down_min(std::clamp<dim_t>(b_bytes / (b.kc * s), r.nc_min, r.nc_max), nr);
    return b;
}

Blocking apply_overrides(Blocking d, dim_t mr, dim_t nr, dim_t mc, dim_t kc, dim_t nc) {
    if (mc > 0) d.mc = round_down_min(mc, mr);
    if (kc > 0) d.kc = kc;
    if (nc > 0) d.nc = round_down_min(nc, nr);
    return d;
}

}  // namespace kernels
