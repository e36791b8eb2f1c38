// The host CPU's data cache sizes. (Its instruction sets are checked by the ISA table, arch/table.cpp.)
#pragma once

#include <cstddef>

namespace kernels {

struct CacheSizes {
    std::size_t l1d, l2, l3;  // bytes per core (l3: whole cache as the OS reports it)
};

CacheSizes cache_sizes();

}  // namespace kernels
