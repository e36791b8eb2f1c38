// FMA peak probe compiled for AVX2 (see fma_peak.hpp): the avx2 row's fma_peak (table.cpp).
#include "avx2.hpp"
#include "../fma_peak.hpp"
#include "vec.hpp"

namespace kernels {
namespace avx2 {
double fma_peak(bool f64, double seconds) {
    return f64 ? fma_throughput<Avx2F64>(seconds) : fma_throughput<Avx2F32>(seconds);
}
}  // namespace avx2
}  // namespace kernels
