// AMX tile support shared by the int8 and bf16 kernels of this folder: whether the CPU has the tile
// unit and the OS grants its state to this process, the palette-1 tile configuration, and its
// per-thread loading (once per product and configuration: arch/product_generation.hpp).
#pragma once

#include <cstdint>

#include "../product_generation.hpp"

namespace kernels {
namespace amx {

// CPUID.(7,0):EDX bits of the AMX extensions.
enum Feature : unsigned { kBf16 = 1u << 22, kTile = 1u << 24, kInt8 = 1u << 25 };

// The CPU has AMX-TILE and every extension in `features`, XCR0 enables the tile state (bits 17,
// 18), and Linux granted this process the tile data (arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA),
// asked once per process). False everywhere else, never an instruction that could fault.
bool usable(unsigned features);

// The palette-1 configuration: per tile t, rows[t] rows of colsb[t] bytes (unused tiles: 0).
struct alignas(64) TileConfig {
    std::uint8_t palette = 1, start_row = 0, reserved[14] = {};
    std::uint16_t colsb[16] = {};
    std::uint8_t rows[16] = {};
};

// Loads cfg on this thread unless this thread already loaded the configuration named `key` (the
// caller's name for cfg, unique per shape) during the current product.
void configure(const TileConfig& cfg, unsigned key);
// At the end of a thread's part of a product: the configuration the thread had before our first
// configure() of the product is loaded again (or the tiles released, where it had none).
void restore();

// Every tile 16 rows x 64 bytes: the palette of the 2x2-tile kernels (bf16 and int8 share it, and
// its key, so a thread running both does not reload it), and of the peak probes.
TileConfig full_tiles();
void configure_full_tiles();

// Single-thread tile-unit throughput for about `seconds` (GFLOP/s for bf16, GOP/s for int8: a
// multiply and an add per product); < 0 where usable() is false for that extension.
double bf16_peak(double seconds);
double int8_peak(double seconds);

}  // namespace amx
}  // namespace kernels
