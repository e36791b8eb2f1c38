// Shared pieces of the CUDA kernels: element types and conversions, PTX wrappers (cp.async, ldmatrix, mma.sync), the fused epilogue.
//
// No CUDA header is included: NVRTC from the nvidia-cuda-nvrtc wheel ships none, and CuPy's
// include path differs between releases. 16-bit elements are stored as raw bits and converted
// with PTX cvt; the tensor-core instructions are issued as inline PTX (what mma.h wraps).
#pragma once

typedef long long i64;

struct half_t { unsigned short x; };  // IEEE binary16 bits (numpy/cupy float16)
struct bf16_t { unsigned short x; };  // bfloat16 bits

// Accumulator type: fp64 accumulates in fp64, every other type in fp32.
template <typename T> struct AccOf { typedef float type; };
template <> struct AccOf<double> { typedef double type; };

__device__ __forceinline__ float to_acc(float v) { return v; }
__device__ __forceinline__ double to_acc(double v) { return v; }
__device__ __forceinline__ float to_acc(half_t v) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(v.x));
  return f;
}
__device__ __forceinline__ float to_acc(bf16_t v) { return __uint_as_float(((unsigned)v.x) << 16); }

template <typename T> __device__ __forceinline__ T from_acc(typename AccOf<T>::type v);
template <> __device__ __forceinline__ float from_acc<float>(float v) { return v; }
template <> __device__ __forceinline__ double from_acc<double>(double v) { return v; }
template <> __device__ __forceinline__ half_t from_acc<half_t>(float v) {
  half_t h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h.x) : "f"(v));
  return h;
}
template <> __device__ __forceinline__ bf16_t from_acc<bf16_t>(float v) {
  bf16_t h;
#if __CUDA_ARCH__ >= 800
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h.x) : "f"(v));
#else  // round to nearest even by hand (cvt.bf16 needs sm_80); NaN stays a quiet NaN
  unsigned u = __float_as_uint(v);
  h.x = (u & 0x7fffffffu) > 0x7f800000u ? (unsigned short)((u >> 16) | 0x40u)
                                         : (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
#endif
  return h;
}

// ------------------------------------------------------------------------------------------
// PTX wrappers
// ------------------------------------------------------------------------------------------

__device__ __forceinline__ unsigned smem_u32(const void* p) {
  unsigned r;
  asm("{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }" : "=r"(r) : "l"(p));
  return r;
}

// Copies BYTES (4, 8 or 16) from global to shared memory without passing through registers;
// only the first src_bytes are read, the rest of the destination is zero-filled (padding and
// tile edges cost no branch). src must be a valid address even when src_bytes == 0.
template <int BYTES>
__device__ __forceinline__ void cp_async(void* smem, const void* gmem, int src_bytes) {
#if __CUDA_ARCH__ >= 800
  if (BYTES == 16)  // .cg: bypass L1, the tile is used once from shared memory
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(smem)), "l"(gmem), "r"(src_bytes));
  else
    asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;\n" ::"r"(smem_u32(smem)), "l"(gmem), "n"(BYTES), "r"(src_bytes));
#else  // before sm_80: a synchronous copy with the same zero fill
  unsigned char* d = (unsigned char*)smem;
  const unsigned char* s = (const unsigned char*)gmem;
  for (int i = 0; i < BYTES; ++i) d[i] = i < src_bytes ? s[i] : 0;
#endif
}

__device__ __forceinline__ void cp_async_commit() {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}

template <int N>
__device__ __forceinline__ void cp_async_wait() {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
#endif
}

// Four 8x8 b16 matrices from shared memory; lane l gives the address of row l%8 of matrix l/8.
__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_u32(p)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_u32(p)));
}

// D += A * B on one 16x8 tile: m16n8k16 for 16-bit inputs, m16n8k8 for tf32; fp32 accumulators.
template <typename T> struct Mma;
// fp16 and bf16 differ only in the PTX type names.
#define KERNELS_MMA_16816(T, PTX)                                                                                   \
  template <> struct Mma<T> {                                                                                       \
    static constexpr int K = 16;                                                                                    \
    static __device__ __forceinline__ void run(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {    \
      asm volatile("mma.sync.aligned.m16n8k16.row.col.f32." PTX "." PTX ".f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n" \
                   : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])                                                 \
                   : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));                             \
    }                                                                                                               \
  };
KERNELS_MMA_16816(half_t, "f16")
KERNELS_MMA_16816(bf16_t, "bf16")
#undef KERNELS_MMA_16816
template <> struct Mma<float> {  // TF32: only reached when the caller asked for precision="tf32"
  static constexpr int K = 8;
  static __device__ __forceinline__ void run(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  }
};

// fp32 -> tf32 with round to nearest (ties away), as cuBLAS does; plain bits would truncate.
__device__ __forceinline__ unsigned to_tf32(float v) {
  unsigned r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(v));
  return r;
}

// ------------------------------------------------------------------------------------------
// Convolution epilogue: y = act(scale[ch] * (acc + bias[ch]) + shift[ch] + res[...]), absent
// vectors null (applied by ConvOut in mainloop.cuh). The residual (null: none) has y's shape AND
// y's strides (the host copies one that has not: then res[o] pairs with y[o] and costs no
// registers of its own in the math's row/column keys; own strides spilled registers); never y's
// memory (the host copies it then too).
// ------------------------------------------------------------------------------------------

enum { ACT_NONE = 0, ACT_RELU = 1, ACT_RELU6 = 2 };

template <typename T>
struct Epilogue {
  const T* bias;
  const T* scale;
  const T* shift;
  int act;
  const T* res;
};

// Compile-time choice of a type (no <type_traits> under NVRTC without headers).
template <bool C, class X, class Y> struct Pick { typedef X type; };
template <class X, class Y> struct Pick<false, X, Y> { typedef Y type; };

// Padding (elements) of a shared-memory tile row: 16 bytes keeps cp.async destinations aligned
// and makes the ldmatrix / fragment reads of consecutive rows hit distinct banks. Tiles whose
// rows run along M or N ("r-contiguous") of 4-byte types get 32 bytes: the tf32 fragment reads
// (k = lane%4, r = lane/4) then fall in 8k + r distinct banks.
template <typename T, bool KCONTIG>
struct Pad {
  static constexpr int value = (!KCONTIG && sizeof(T) == 4) ? 8 : int(16 / sizeof(T));
};

template <typename T, int BR, int BK, bool KCONTIG>
struct TileShape {
  static constexpr int PAD = Pad<T, KCONTIG>::value;
  static constexpr int LD = KCONTIG ? BK + PAD : BR + PAD;  // elements per smem row
  static constexpr int ELEMS = KCONTIG ? BR * LD : BK * LD;
  static __device__ __forceinline__ int at(int r, int k) { return KCONTIG ? r * LD + k : k * LD + r; }
};
