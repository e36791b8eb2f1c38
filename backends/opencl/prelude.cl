// Shared prelude of every kernel (the host prepends it): REAL and its vectors, builtin-free loads and FMAs.
//
// Why no vloadN/fma/min builtins in hot loops: PoCL's CPU driver (3.x, the pip binary
// distribution) links its builtin library without inlining it, so each vload16 or fma is a call
// with its operands spilled to the stack (measured 10x slower). Element-wise vector construction
// from consecutive scalars and `a * b + c` (OpenCL C contracts it: FP_CONTRACT is on by default)
// compile to plain vector loads and FMAs everywhere, FPGA compilers included.
#ifndef REAL
#define REAL float
#endif
#if REAL_IS_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
#pragma OPENCL FP_CONTRACT ON

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define ZERO ((REAL)0)
#define IMIN(a, b) ((a) < (b) ? (a) : (b))
#define IMAX(a, b) ((a) > (b) ? (a) : (b))

// VW-wide vector of REAL (VW = 1 is the scalar) and an unaligned load of VW consecutive elements.
#if VW == 1
#define REALV REAL
#define VLOAD(p) ((p)[0])
#elif VW == 2
#define REALV CAT(REAL, 2)
#define VLOAD(p) ((REALV)((p)[0], (p)[1]))
#elif VW == 4
#define REALV CAT(REAL, 4)
#define VLOAD(p) ((REALV)((p)[0], (p)[1], (p)[2], (p)[3]))
#elif VW == 8
#define REALV CAT(REAL, 8)
#define VLOAD(p) ((REALV)((p)[0], (p)[1], (p)[2], (p)[3], (p)[4], (p)[5], (p)[6], (p)[7]))
#elif VW == 16
#define REALV CAT(REAL, 16)
#define VLOAD(p) ((REALV)((p)[0], (p)[1], (p)[2], (p)[3], (p)[4], (p)[5], (p)[6], (p)[7], \
                          (p)[8], (p)[9], (p)[10], (p)[11], (p)[12], (p)[13], (p)[14], (p)[15]))
#endif
