// FMA peak probe compiled for AVX512 (see fma_peak.hpp).
#include "vec.hpp"
#include "../fma_peak.hpp"

namespace kernels {
double fma_peak_avx512(bool f64, double seconds) {
    return f64 ? fma_peak<Avx512F64>(seconds) : fma_peak<Avx512F32>(seconds);
}
}  // namespace kernels
