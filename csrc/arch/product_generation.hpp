// A counter of the low-precision products started (int8 qgemm, bf16 bgemm). Kernels that keep
// per-thread state loaded across their calls (AMX's tile configuration) reload it once per product,
// so nothing another library loaded on the thread between two of our products is ever used; and
// each thread puts back what it had before when its part of a product ends, so that nothing of
// ours is left for another library's kernels either.
#pragma once

#include <atomic>
#include <cstdint>

namespace kernels {

extern std::atomic<std::uint64_t> g_product_generation;  // defined in arch/table.cpp

// Called by a product's driver before its tiles run (on the calling thread, before the team forms).
inline void begin_product() { g_product_generation.fetch_add(1, std::memory_order_relaxed); }

// Called by each thread of a product's team when its part ends (gemm/driver.hpp): the AMX tile
// configuration this thread had before the product, if the product loaded one (arch/table.cpp).
void end_product_on_thread();

}  // namespace kernels
