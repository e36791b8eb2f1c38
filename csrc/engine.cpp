// Engine state: swapped atomically so configure() is safe while other threads compute.
#include "engine.hpp"

#include <atomic>

#include "cpu_info.hpp"
#include "registry.hpp"

namespace kernels {

namespace {

template <typename T>
const Engine<T>* make_engine(Isa cap, dim_t mc, dim_t kc, dim_t nc) {
    const Ukernel<T>& u = select_ukernel<T>(cap);
    const Blocking derived = derive_blocking(u.mr, u.nr, sizeof(T), cache_sizes());
    // Old engines are intentionally leaked: a concurrent call may still hold one, and there are
    // only as many as configure() calls (a handful per process).
    return new Engine<T>{&u, apply_overrides(derived, u.mr, u.nr, mc, kc, nc)};
}

std::atomic<int> g_cap{static_cast<int>(Isa::avx512)};

template <typename T>
std::atomic<const Engine<T>*>& slot() {
    static std::atomic<const Engine<T>*> s{make_engine<T>(Isa::avx512, 0, 0, 0)};
    return s;
}

}  // namespace

template <typename T>
const Engine<T>& engine() {
    return *slot<T>().load(std::memory_order_acquire);
}
template const Engine<float>& engine<float>();
template const Engine<double>& engine<double>();

void configure(Isa cap, dim_t mc, dim_t kc, dim_t nc) {
    g_cap.store(static_cast<int>(cap));
    slot<float>().store(make_engine<float>(cap, mc, kc, nc), std::memory_order_release);
    slot<double>().store(make_engine<double>(cap, mc, kc, nc), std::memory_order_release);
}

Isa isa_cap() { return static_cast<Isa>(g_cap.load()); }

}  // namespace kernels
