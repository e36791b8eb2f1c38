// Micro-kernel registry: one line per kernel file. A new ISA adds its file and one line here.
#include "table.hpp"

#include "../core/cpu_info.hpp"

namespace kernels {

extern const Ukernel<float> ukr_f32_avx512_64x6, ukr_f32_avx512_32x12, ukr_f32_avx2_16x6, ukr_f32_generic_8x4;
extern const Ukernel<double> ukr_f64_avx512_32x6, ukr_f64_avx512_16x12, ukr_f64_avx2_8x6, ukr_f64_generic_4x4;

template <>
const std::vector<const Ukernel<float>*>& built_ukernels<float>() {
    static const std::vector<const Ukernel<float>*> table = {
#ifdef KERNELS_HAVE_AVX512
        &ukr_f32_avx512_64x6,
        &ukr_f32_avx512_32x12,
#endif
#ifdef KERNELS_HAVE_AVX2
        &ukr_f32_avx2_16x6,
#endif
        &ukr_f32_generic_8x4,
    };
    return table;
}

template <>
const std::vector<const Ukernel<double>*>& built_ukernels<double>() {
    static const std::vector<const Ukernel<double>*> table = {
#ifdef KERNELS_HAVE_AVX512
        &ukr_f64_avx512_32x6,
        &ukr_f64_avx512_16x12,
#endif
#ifdef KERNELS_HAVE_AVX2
        &ukr_f64_avx2_8x6,
#endif
        &ukr_f64_generic_4x4,
    };
    return table;
}

template <typename T>
std::vector<const Ukernel<T>*> select_ukernels(Isa cap) {
    std::vector<const Ukernel<T>*> out;
    for (const Ukernel<T>* u : built_ukernels<T>()) {
        if (static_cast<int>(u->isa) > static_cast<int>(cap) || !cpu_supports(u->isa)) continue;
        if (!out.empty() && u->isa != out.front()->isa) break;  // table is sorted best ISA first
        out.push_back(u);
    }
    return out;  // never empty: the generic kernel is always built and runnable
}

template std::vector<const Ukernel<float>*> select_ukernels<float>(Isa);
template std::vector<const Ukernel<double>*> select_ukernels<double>(Isa);

}  // namespace kernels
