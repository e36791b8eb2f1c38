// A std::vector whose data starts on a cache line: for packed operands that tile loads read in
// 64-byte rows (a row straddling two lines costs two accesses, and with the streaming hint each
// line came from L2 twice).
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace kernels {

template <typename T, std::size_t Align = 64>
struct AlignedAllocator {
    using value_type = T;
    template <typename U>
    struct rebind {
        using other = AlignedAllocator<U, Align>;
    };
    AlignedAllocator() = default;
    template <typename U>
    AlignedAllocator(const AlignedAllocator<U, Align>&) noexcept {}
    T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(Align))); }
    void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t(Align)); }
    template <typename U>
    bool operator==(const AlignedAllocator<U, Align>&) const noexcept { return true; }
    template <typename U>
    bool operator!=(const AlignedAllocator<U, Align>&) const noexcept { return false; }
};

template <typename T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

}  // namespace kernels
