// Engine state: swapped atomically so configure() is safe while other threads compute.
#include "engine.hpp"

#include <atomic>
#include <stdexcept>

#include "../arch/table.hpp"
#include "../arch/uarch.hpp"
#include "cpu_info.hpp"

namespace kernels {

namespace {

template <typename T>
Candidate<T> candidate(const Ukernel<T>* u, dim_t mc, dim_t kc, dim_t nc) {
    // The microarchitecture's rule and efficiency where its row has them, else the ISA row's.
    const Blocking derived = derive_blocking(u->mr, u->nr, sizeof(T), cache_sizes(), block_rule_for(u->isa));
    return {u, apply_overrides(derived, u->mr, u->nr, mc, kc, nc), efficiency_for(*u), host_uarch().grid_stream_weight};
}

// nullptr when `name` is not a T kernel (the other dtype's configure handles it).
template <typename T>
const Engine<T>* make_engine(Isa cap, dim_t mc, dim_t kc, dim_t nc, const std::string& name) {
    auto* e = new Engine<T>();
    // Old engines are intentionally leaked: a concurrent call may still hold one, and there are
    // only as many as configure() calls (a handful per process).
    if (name.empty()) {
        for (const Ukernel<T>* u : select_ukernels<T>(cap)) e->cands.push_back(candidate(u, mc, kc, nc));
        return e;
    }
    for (const Ukernel<T>* u : built_ukernels<T>())
        if (name == u->name) {
            if (!cpu_supports(u->isa)) throw std::invalid_argument(name + " cannot run on this CPU");
            e->cands.push_back(candidate(u, mc, kc, nc));
            return e;
        }
    delete e;
    return nullptr;
}

// The cap starts at the table's best ISA: no cap.
std::atomic<int> g_cap{static_cast<int>(best_isa())};

template <typename T>
std::atomic<const Engine<T>*>& slot() {
    static std::atomic<const Engine<T>*> s{make_engine<T>(best_isa(), 0, 0, 0, "")};
    return s;
}

}  // namespace

template <typename T>
const Engine<T>& engine() {
    return *slot<T>().load(std::memory_order_acquire);
}
template const Engine<float>& engine<float>();
template const Engine<double>& engine<double>();

void configure(Isa cap, dim_t mc, dim_t kc, dim_t nc, const std::string& ukernel) {
    const Engine<float>* f = make_engine<float>(cap, mc, kc, nc, ukernel);
    const Engine<double>* d = make_engine<double>(cap, mc, kc, nc, ukernel);
    if (!ukernel.empty() && !f && !d)
        throw std::invalid_argument("no micro-kernel named '" + ukernel + "' in this build");
    // Forcing one kernel of one dtype leaves the other dtype on its ISA-capped default.
    if (!f) f = make_engine<float>(cap, mc, kc, nc, "");
    if (!d) d = make_engine<double>(cap, mc, kc, nc, "");
    g_cap.store(static_cast<int>(cap));
    slot<float>().store(f, std::memory_order_release);
    slot<double>().store(d, std::memory_order_release);
}

Isa isa_cap() { return static_cast<Isa>(g_cap.load()); }

}  // namespace kernels
