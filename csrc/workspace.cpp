// Per-thread packing workspace: grows geometrically, freed when the thread exits.
#include "workspace.hpp"

#include <cstdlib>
#include <new>

namespace kernels {

namespace {
struct Buffer {
    void* ptr = nullptr;
    std::size_t size = 0;
    ~Buffer() { std::free(ptr); }
};
thread_local Buffer t_buffer;
constexpr std::size_t kPage = 4096;
}  // namespace

void* workspace(std::size_t bytes) {
    if (bytes <= t_buffer.size) return t_buffer.ptr;
    std::size_t want = t_buffer.size * 3 / 2;
    if (want < bytes) want = bytes;
    want = (want + kPage - 1) / kPage * kPage;
    std::free(t_buffer.ptr);
    t_buffer.ptr = std::aligned_alloc(kPage, want);
    t_buffer.size = t_buffer.ptr ? want : 0;
    if (!t_buffer.ptr) throw std::bad_alloc();
    return t_buffer.ptr;
}

}  // namespace kernels
