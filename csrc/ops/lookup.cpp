// Byte-pair table lookup (lookup.hpp). Why C++: NumPy needs three passes (shift, or, take) through a
// 16-bit index array; here one pass, the 64 KiB table L2-resident (ResNet-50's QDQ residual adds:
// 4.1 ms of NumPy per run at 1 thread, 56x56x256 bytes the largest).
#include "lookup.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace kernels {

void lookup_pairs(const std::uint8_t* a, const std::uint8_t* b, const std::uint8_t* table, std::uint8_t* out, dim_t n,
                  [[maybe_unused]] int nt) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && n >= (1 << 16))
    for (dim_t i = 0; i < n; ++i) out[i] = table[(static_cast<unsigned>(a[i]) << 8) | b[i]];
}

}  // namespace kernels
