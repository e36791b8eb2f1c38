// QAdd (qadd.hpp): the ISA helper picked per call from the table under the engine's cap, threads
// over contiguous chunks, and the portable loop every helper must equal bit for bit.
#include "qadd.hpp"

#include <algorithm>
#include <cmath>

#include "../arch/table.hpp"
#include "../core/qlinear_add.hpp"
#include "../core/engine.hpp"

namespace kernels {

namespace {

// The scalar definition (core/qlinear_add.hpp) pair by pair.
void qadd_portable(const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out, dim_t n, bool is_signed, float ra,
                   float rb, float k) {
    for (dim_t i = 0; i < n; ++i) {
        const float av = is_signed ? static_cast<float>(static_cast<std::int8_t>(a[i])) : static_cast<float>(a[i]);
        const float bv = is_signed ? static_cast<float>(static_cast<std::int8_t>(b[i])) : static_cast<float>(b[i]);
        out[i] = static_cast<std::uint8_t>(qlinear_add(av, bv, ra, rb, k, is_signed));  // int8: two's complement byte
    }
}

// Below this many pairs one thread finishes before a team wakes (about 10 us of work).
constexpr dim_t kParallelPairs = dim_t(1) << 17;
constexpr dim_t kChunkAlign = 64;  // thread chunks start on a 64-pair boundary: whole vectors

}  // namespace

Isa qadd_isa() {
    Isa isa;
    (void)select_qadd(isa_cap(), &isa);
    return isa;
}

void qadd(const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out, dim_t n, bool is_signed, float ra, float rb,
          float k, int nt) {
    Isa isa;
    qadd_fn f = select_qadd(isa_cap(), &isa);
    if (f == nullptr) f = &qadd_portable;
    if (n < kParallelPairs || nt <= 1) {
        f(a, b, out, n, is_signed, ra, rb, k);
        return;
    }
    const dim_t chunk = ((n + nt - 1) / nt + kChunkAlign - 1) / kChunkAlign * kChunkAlign;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < nt; ++t) {
        const dim_t i0 = std::min(n, t * chunk), i1 = std::min(n, i0 + chunk);
        if (i1 > i0) f(a + i0, b + i0, out + i0, i1 - i0, is_signed, ra, rb, k);
    }
}

}  // namespace kernels
