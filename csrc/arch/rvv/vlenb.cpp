// The V probe and VLEN read of arch/rvv/ (see rvv.hpp): one CSR read, compiled with -march=rv64gcv.
#include "rvv.hpp"

namespace kernels {
namespace rvv {
std::size_t vlenb() {
    std::size_t b;
    // vlenb is a vector CSR: reading it traps (SIGILL) where V is absent or not enabled by the OS.
    __asm__ volatile("csrr %0, vlenb" : "=r"(b));
    return b;
}
}  // namespace rvv
}  // namespace kernels
