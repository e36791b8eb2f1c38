// Reusable, page-aligned packing buffers owned by the thread that enters the library.
#pragma once

#include <cstddef>

namespace kernels {

// A buffer of at least `bytes`, valid until the next call from the same thread. Reused across calls
// so mid-size GEMMs do not pay mmap + page faults for their packing buffers every time.
void* workspace(std::size_t bytes);

}  // namespace kernels
