// The five-loop packed GEMM (BLIS structure) over any micro-kernel of the ISA table.
#pragma once

#include "../core/common.hpp"
#include "../core/engine.hpp"
#include "../core/epilogue.hpp"

namespace kernels {

// C := alpha * A * B + beta * C with A m x k, B k x n, C m x n, each given by a pointer and
// element strides (rows, cols); strides may be negative or zero-free broadcasts of inputs.
// ep: optional per-channel epilogue on the result (1x1 convolutions); inactive by default.
template <typename T>
struct GemmArgs {
    dim_t m, n, k;
    T alpha;
    const T* a;
    inc_t rs_a, cs_a;
    const T* b;
    inc_t rs_b, cs_b;
    T beta;
    T* c;
    inc_t rs_c, cs_c;
    Epilogue<T> ep{};
};

// Runs one GEMM with at most `nthreads` OpenMP threads (fewer when the problem is small).
template <typename T>
void gemm(const GemmArgs<T>& g, const Engine<T>& e, int nthreads);

// Threads worth using for an m x n x k product: at least ~2 us of work per thread, and at least
// one micro-tile each. Always 1 in a build without OpenMP (the drivers would run one part of nt).
template <typename T>
int useful_threads(dim_t m, dim_t n, dim_t k, const Engine<T>& e, int nthreads);

}  // namespace kernels
