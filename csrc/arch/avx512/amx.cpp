// AMX tile support (amx.hpp): CPU and OS checks, and the per-thread configuration cache.
#include "amx.hpp"

#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <ctime>

namespace kernels {
namespace amx {

namespace {

bool os_grants_tiles() {
    static const bool ok = [] {
        unsigned a = 0, b = 0, c = 0, d = 0;
        if (!__get_cpuid(1, &a, &b, &c, &d) || !((c >> 27) & 1u)) return false;  // OSXSAVE: xgetbv allowed
        unsigned lo = 0, hi = 0;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        if ((lo & (3u << 17)) != (3u << 17)) return false;
        constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
        return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
    }();
    return ok;
}

unsigned cpuid7_edx() {
    static const unsigned edx = [] {
        unsigned a = 0, b = 0, c = 0, d = 0;
        return __get_cpuid_count(7, 0, &a, &b, &c, &d) ? d : 0u;
    }();
    return edx;
}

// What this thread loaded: in which product, under which key.
thread_local std::uint64_t t_generation = ~std::uint64_t{0};
thread_local unsigned t_key = ~0u;

}  // namespace

bool usable(unsigned features) {
    const unsigned need = features | kTile;
    return (cpuid7_edx() & need) == need && os_grants_tiles();
}

// The configuration this thread had before our first load in the current product (t_saved_for:
// which product; ~0: nothing to restore). Other libraries' AMX kernels on the same thread
// (onnxruntime's MLAS, ggml) load theirs once per thread and assume it stays: left with ours
// (an edge tile's 17-31 pixel rows), their next TDPBUSD raised #UD in onnxruntime's QGemm, and a
// configuration of the same tile shapes with fewer rows would have given them wrong sums silently.
thread_local TileConfig t_saved;
thread_local std::uint64_t t_saved_for = ~std::uint64_t{0};

__attribute__((target("amx-tile"))) void configure(const TileConfig& cfg, unsigned key) {
    const std::uint64_t gen = g_product_generation.load(std::memory_order_relaxed);
    if (gen == t_generation && key == t_key) return;
    if (t_saved_for != gen) {
        _tile_storeconfig(&t_saved);  // (all zero when no configuration is loaded)
        t_saved_for = gen;
    }
    _tile_loadconfig(&cfg);
    t_generation = gen, t_key = key;
}

__attribute__((target("amx-tile"))) void restore() {
    if (t_saved_for == ~std::uint64_t{0}) return;
    t_saved_for = ~std::uint64_t{0};
    t_generation = ~std::uint64_t{0}, t_key = ~0u;  // what is loaded now is not ours
    if (t_saved.palette == 0) _tile_release();  // none was loaded: back to the initial state
    else _tile_loadconfig(&t_saved);
}

TileConfig full_tiles() {
    TileConfig cfg;
    for (int t = 0; t < 8; ++t) cfg.rows[t] = 16, cfg.colsb[t] = 64;
    return cfg;
}

void configure_full_tiles() {
    static const TileConfig cfg = full_tiles();
    configure(cfg, 0x100);  // (the 12-pixel int8 kernel's keys are 0..15)
}

// Tile-unit throughput: TDPBF16PS / TDPBUSD on tiles in registers (no loads), 4 independent C tiles
// (the kernels' 2x2 blocking), timed in this thread's CPU time as the vector probes are.
namespace {
double thread_seconds() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}
template <bool Int8>
__attribute__((target("amx-tile,amx-bf16,amx-int8"))) double tile_peak(double seconds) {
    TileConfig saved;  // the caller's, loaded again at the end (configure() says why)
    _tile_storeconfig(&saved);
    const TileConfig cfg = full_tiles();
    _tile_loadconfig(&cfg);
    alignas(64) static const std::uint8_t zeros[1024] = {};  // A and B tiles: exact, no special values
    _tile_loadd(4, zeros, 64);
    _tile_loadd(5, zeros, 64);
    _tile_loadd(6, zeros, 64);
    _tile_loadd(7, zeros, 64);
    t_generation = ~std::uint64_t{0};  // the kernels' configuration is gone: they reload theirs
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    long iters = 0;
    const double t0 = thread_seconds();
    double elapsed = 0.0;
    do {
        for (int rep = 0; rep < 1024; ++rep) {
            if constexpr (Int8) {
                _tile_dpbusd(0, 4, 6);
                _tile_dpbusd(1, 4, 7);
                _tile_dpbusd(2, 5, 6);
                _tile_dpbusd(3, 5, 7);
            } else {
                _tile_dpbf16ps(0, 4, 6);
                _tile_dpbf16ps(1, 4, 7);
                _tile_dpbf16ps(2, 5, 6);
                _tile_dpbf16ps(3, 5, 7);
            }
        }
        iters += 1024;
        elapsed = thread_seconds() - t0;
    } while (elapsed < seconds);
    if (saved.palette == 0) _tile_release();
    else _tile_loadconfig(&saved);
    // Each instruction: 16 x 16 outputs x (32 bf16 or 64 int8 products) x 2 operations.
    const double ops = 4.0 * static_cast<double>(iters) * 16 * 16 * (Int8 ? 64 : 32) * 2;
    return ops / elapsed * 1e-9;
}
}  // namespace

double bf16_peak(double seconds) { return usable(kBf16) ? tile_peak<false>(seconds) : -1.0; }
double int8_peak(double seconds) { return usable(kInt8) ? tile_peak<true>(seconds) : -1.0; }

}  // namespace amx
}  // namespace kernels
