// What the host CPU offers: instruction sets (checked at run time) and data cache sizes.
#pragma once

#include <cstddef>

#include "../arch/ukernel.hpp"

namespace kernels {

struct CacheSizes {
    std::size_t l1d, l2, l3;  // bytes per core (l3: whole cache as the OS reports it)
};

bool cpu_supports(Isa isa);  // the CPU and OS can run this ISA's instructions
bool isa_built(Isa isa);     // this build contains the ISA's micro-kernels
const char* isa_name(Isa isa);
bool parse_isa(const char* name, Isa* out);
CacheSizes cache_sizes();

}  // namespace kernels
