// Engine state: swapped atomically so configure() is safe while other threads compute.
#include "engine.hpp"

#include <atomic>
#include <memory>
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
    Candidate<T> c{u, apply_overrides(derived, u->mr, u->nr, mc, kc, nc), efficiency_for(*u), host_uarch().grid_stream_weight};
    // The row's large-product blocks, for its AVX-512 kernels and only where no block is given
    // (a user's or the tuner's sizes apply to every product).
    const LargeProductBlocks& lb = host_uarch().large;
    if (lb.min_mn > 0 && u->isa == Isa::avx512 && mc == 0 && kc == 0 && nc == 0) {
        c.large = apply_overrides(derived, u->mr, u->nr, lb.mc, lb.kc, lb.nc);
        c.large_min_mn = lb.min_mn;
    }
    return c;
}

template <typename T>
const char* dtype_label() {
    return sizeof(T) == 4 ? "float32" : "float64";
}

// Negative sizes and sizes no cache level could hold. The packed blocks are checked per kernel
// after rounding to its MR / NR, where a derived size meets an override.
void check_block_sizes(dim_t mc, dim_t kc, dim_t nc) {
    const std::string got = "MC=" + std::to_string(mc) + " KC=" + std::to_string(kc) + " NC=" + std::to_string(nc);
    if (mc < 0 || kc < 0 || nc < 0)
        throw std::invalid_argument("block sizes must be >= 0 (0 = derived from the caches), got " + got);
    if (mc > kMaxBlockSize || kc > kMaxBlockSize || nc > kMaxBlockSize)
        throw std::invalid_argument("block sizes must be 0 (derived) or 1.." + std::to_string(kMaxBlockSize) + ", got " + got);
}

template <typename T>
void check_packed_blocks(const Candidate<T>& c) {
    const dim_t a = c.blk.mc * c.blk.kc * static_cast<dim_t>(sizeof(T));
    const dim_t b = c.blk.kc * c.blk.nc * static_cast<dim_t>(sizeof(T));
    const auto mib = [](dim_t bytes) { return std::to_string(bytes >> 20) + " MiB"; };
    if (a > kMaxPackedABytes || b > kMaxPackedBBytes)
        throw std::invalid_argument(std::string(c.ukr->name) + ": MC=" + std::to_string(c.blk.mc) + " KC=" +
                                    std::to_string(c.blk.kc) + " NC=" + std::to_string(c.blk.nc) + " pack " + mib(a) +
                                    " of A (MC x KC, at most " + mib(kMaxPackedABytes) + ") and " + mib(b) +
                                    " of B (KC x NC, at most " + mib(kMaxPackedBBytes) + ")");
}

Origin origin_of(dim_t mc, dim_t kc, dim_t nc, const std::string& name, const std::string& source) {
    Origin o;
    if (!name.empty()) o.ukernel = source;
    if (mc > 0) o.mc = source;
    if (kc > 0) o.kc = source;
    if (nc > 0) o.nc = source;
    return o;
}

// nullptr when `name` is not a T kernel (the other dtype's configure handles it).
template <typename T>
const Engine<T>* make_engine(Isa cap, dim_t mc, dim_t kc, dim_t nc, const std::string& name,
                             const std::string& source = "configure") {
    std::unique_ptr<Engine<T>> e(new Engine<T>());
    e->origin = origin_of(mc, kc, nc, name, source);
    if (name.empty()) {
        for (const Ukernel<T>* u : select_ukernels<T>(cap)) e->cands.push_back(candidate(u, mc, kc, nc));
    } else {
        for (const Ukernel<T>* u : built_ukernels<T>())
            if (name == u->name) {
                if (!cpu_supports(u->isa)) throw std::invalid_argument(name + " cannot run on this CPU");
                e->cands.push_back(candidate(u, mc, kc, nc));
                break;
            }
        if (e->cands.empty()) return nullptr;
    }
    for (const Candidate<T>& c : e->cands) check_packed_blocks(c);
    // Old engines are intentionally leaked: a concurrent call may still hold one, and there are
    // only as many as configure() calls (a handful per process; a tuner's search: a few thousand
    // engines of ~100 bytes).
    return e.release();
}

// The T kernels configure_dtype accepts under `cap`, for its error messages.
template <typename T>
std::string allowed_kernels(Isa cap) {
    std::string out;
    for (const Ukernel<T>* u : built_ukernels<T>())
        if (cpu_supports(u->isa) && static_cast<int>(u->isa) <= static_cast<int>(cap))
            out += (out.empty() ? "" : ", ") + std::string(u->name);
    return "'' (every kernel of the ISA cap, picked per shape)" + (out.empty() ? "" : ", " + out);
}

template <typename T, typename Other>
void check_kernel_name(const std::string& name, Isa cap) {
    const std::string allowed = std::string("; allowed ") + dtype_label<T>() + " kernels: " + allowed_kernels<T>(cap);
    for (const Ukernel<T>* u : built_ukernels<T>())
        if (name == u->name) {
            if (!cpu_supports(u->isa))
                throw std::invalid_argument(name + " is an " + isa_name(u->isa) + " kernel, which this CPU cannot run" + allowed);
            if (static_cast<int>(u->isa) > static_cast<int>(cap))
                throw std::invalid_argument(name + " is an " + isa_name(u->isa) + " kernel, above the ISA cap " +
                                            isa_name(cap) + " (KERNELS_CPU_ISA, configure(isa=...))" + allowed);
            return;
        }
    for (const Ukernel<Other>* u : built_ukernels<Other>())
        if (name == u->name) throw std::invalid_argument(name + " is a " + dtype_label<Other>() + " kernel" + allowed);
    throw std::invalid_argument("no micro-kernel named '" + name + "' in this build" + allowed);
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

void configure(Isa cap, dim_t mc, dim_t kc, dim_t nc, const std::string& ukernel, const std::string& source) {
    check_block_sizes(mc, kc, nc);
    // Owned until both engines are built: a refused float64 configuration frees the float32 one.
    std::unique_ptr<const Engine<float>> f(make_engine<float>(cap, mc, kc, nc, ukernel, source));
    std::unique_ptr<const Engine<double>> d(make_engine<double>(cap, mc, kc, nc, ukernel, source));
    if (!ukernel.empty() && !f && !d)
        throw std::invalid_argument("no micro-kernel named '" + ukernel + "' in this build");
    // Forcing one kernel of one dtype leaves the other dtype on its ISA-capped default.
    if (!f) f.reset(make_engine<float>(cap, mc, kc, nc, "", source));
    if (!d) d.reset(make_engine<double>(cap, mc, kc, nc, "", source));
    g_cap.store(static_cast<int>(cap));
    slot<float>().store(f.release(), std::memory_order_release);
    slot<double>().store(d.release(), std::memory_order_release);
}

template <typename T>
void configure_dtype(const std::string& ukernel, dim_t mc, dim_t kc, dim_t nc, const std::string& source) {
    check_block_sizes(mc, kc, nc);
    const Isa cap = isa_cap();
    if (!ukernel.empty()) {
        if constexpr (sizeof(T) == 4) check_kernel_name<float, double>(ukernel, cap);
        else check_kernel_name<double, float>(ukernel, cap);
    }
    slot<T>().store(make_engine<T>(cap, mc, kc, nc, ukernel, source), std::memory_order_release);
}
template void configure_dtype<float>(const std::string&, dim_t, dim_t, dim_t, const std::string&);
template void configure_dtype<double>(const std::string&, dim_t, dim_t, dim_t, const std::string&);

Isa isa_cap() { return static_cast<Isa>(g_cap.load()); }

}  // namespace kernels
