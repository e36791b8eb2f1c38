// KERNELS_CLONES: the vector targets GCC compiles the portable data-movement loops for.
//
// Data-movement loops (im2col, gathers, depthwise) are compiled once for every target listed here
// and picked at load time by CPUID (GCC function multiversioning, an ifunc), so the portable code
// still moves data with 512-bit vectors where the CPU has them. It is the same source compiled per
// target, not a kernel of an ISA folder, so it does not go through the ISA table (nor its
// KERNELS_CPU_ISA cap); the list lives here, in arch/, because it names machine targets.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define KERNELS_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define KERNELS_CLONES
#endif
