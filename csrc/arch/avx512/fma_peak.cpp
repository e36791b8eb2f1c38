// FMA peak probe compiled for AVX512 (see fma_peak.hpp): the avx512 row's fma_peak (table.cpp).
#include "avx512.hpp"
#include "../fma_peak.hpp"
#include "vec.hpp"

namespace kernels {
namespace avx512 {
double fma_peak(bool f64, double seconds) {
    return f64 ? fma_throughput<Avx512F64>(seconds) : fma_throughput<Avx512F32>(seconds);
}
}  // namespace avx512
}  // namespace kernels
