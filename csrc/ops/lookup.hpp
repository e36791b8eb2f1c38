// Element-wise lookup of a pair of bytes in a 65536-entry table (the ONNX runtime's QAdd).
#pragma once

#include <cstdint>

#include "../core/common.hpp"

namespace kernels {

// out[i] = table[(a[i] << 8) | b[i]] for i in [0, n); nt threads split i.
void lookup_pairs(const std::uint8_t* a, const std::uint8_t* b, const std::uint8_t* table, std::uint8_t* out, dim_t n,
                  int nt);

}  // namespace kernels
