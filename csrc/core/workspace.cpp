// Per-thread packing workspace: grows geometrically, freed when the thread exits.
#include "workspace.hpp"

#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace kernels {

namespace {
struct Buffer {
    void* ptr = nullptr;
    std::size_t size = 0;
    ~Buffer() { std::free(ptr); }
};
thread_local Buffer t_buffers[kSlots];
thread_local Buffer t_zeros;
constexpr std::size_t kPage = 4096;
constexpr std::size_t kHugePage = 2u << 20;
}  // namespace

void* workspace(std::size_t bytes, Slot slot) {
    Buffer& buf = t_buffers[static_cast<int>(slot)];
    if (bytes <= buf.size) return buf.ptr;
    std::size_t want = buf.size * 3 / 2;
    if (want < bytes) want = bytes;
    // Packed blocks of A (~512 KiB) and B (several MiB) are streamed by the micro-kernels; on 4 KiB
    // pages the hardware prefetchers stop at every page boundary and the A block alone needs 128
    // TLB entries. Large buffers are 2 MiB aligned and offered to transparent huge pages.
    const std::size_t align = want >= kHugePage ? kHugePage : kPage;
    want = (want + align - 1) / align * align;
    std::free(buf.ptr);
    buf.ptr = std::aligned_alloc(align, want);
    buf.size = buf.ptr ? want : 0;
    if (!buf.ptr) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (align == kHugePage) madvise(buf.ptr, want, MADV_HUGEPAGE);  // a hint: failure is harmless
#endif
    return buf.ptr;
}

const void* zero_block(std::size_t bytes) {
    if (bytes <= t_zeros.size) return t_zeros.ptr;
    const std::size_t want = (bytes + kPage - 1) / kPage * kPage;
    std::free(t_zeros.ptr);
    t_zeros.ptr = std::aligned_alloc(kPage, want);
    t_zeros.size = t_zeros.ptr ? want : 0;
    if (!t_zeros.ptr) throw std::bad_alloc();
    std::memset(t_zeros.ptr, 0, want);
    return t_zeros.ptr;
}

}  // namespace kernels
