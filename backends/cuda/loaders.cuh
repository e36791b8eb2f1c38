// Tile loaders: fill one pipeline stage (a BR x BK tile of an operand) in shared memory from a dense matrix or by gathering convolution taps.
//
// An operand is a "rows x K" matrix (rows = M for A, N for B). Every loader has
//   load(stage, k0): asynchronous loaders issue cp.async into the stage; register loaders read
//                    global memory into registers (the next tile, while the current one computes)
//   store(stage):    register loaders write those registers into the stage; a no-op otherwise
// and SMEM_KCONTIG, the layout it leaves in shared memory ([r][k] when true, [k][r] when false).
// Elements outside the matrix (tile edges, convolution padding) arrive as zeros.
#pragma once
#include "common.cuh"

// ---------------------------------------------------------------------------------------------
// Dense operands. KCONTIG: element (r, k) at p[r * ld + k]; else at p[k * ld + r].
// ---------------------------------------------------------------------------------------------

// 16-byte cp.async chunks along the contiguous dimension, into the same layout in shared memory.
// Needs p and ld * sizeof(T) 16-byte aligned (the host copies operands that are not).
template <typename T, int BR, int BK, int NT, bool KCONTIG>
struct DenseAsync {
  typedef TileShape<T, BR, BK, KCONTIG> S;
  static constexpr bool SMEM_KCONTIG = KCONTIG;
  static constexpr int VEC = 16 / sizeof(T);
  static constexpr int L = (KCONTIG ? BK : BR) / VEC;  // chunks per contiguous run
  static constexpr int CHUNKS = (KCONTIG ? BR : BK) * L;
  static constexpr int CH = (CHUNKS + NT - 1) / NT;
  static_assert((KCONTIG ? BK : BR) % VEC == 0, "tile edge must hold whole 16-byte chunks");

  const T* p;
  i64 ld;
  int rows, K, r0, tid;

  __device__ __forceinline__ DenseAsync(const T* p_, i64 ld_, int rows_, int K_, int r0_, int tid_)
      : p(p_), ld(ld_), rows(rows_), K(K_), r0(r0_), tid(tid_) {}

  __device__ __forceinline__ void load(T* s, int k0) const {
#pragma unroll
    for (int i = 0; i < CH; ++i) {
      const int c = tid + i * NT;
      if (CHUNKS % NT != 0 && c >= CHUNKS) break;
      const int o = c / L, l = (c % L) * VEC;
      int n;
      i64 off;
      if constexpr (KCONTIG) {
        const int r = r0 + o, k = k0 + l;
        n = r < rows ? min(max(K - k, 0), VEC) : 0;
        off = (i64)r * ld + k;
      } else {
        const int k = k0 + o, r = r0 + l;
        n = k < K ? min(max(rows - r, 0), VEC) : 0;
        off = (i64)k * ld + r;
      }
      cp_async<16>(s + o * S::LD + l, n > 0 ? p + off : p, n * (int)sizeof(T));
    }
  }
  __device__ __forceinline__ void store(T*) const {}
};

// K-contiguous source into a [k][r] tile (what the CUDA-core kernels read as 16-byte vectors
// along r): 16-byte global loads into registers, transposed by the stores. Consecutive lanes
// cover one row's BK elements then the next row's, so each warp load uses whole 32-byte sectors
// and the transposed stores of a warp fall in distinct banks.
template <typename T, int BR, int BK, int NT>
struct DenseRegs {
  typedef TileShape<T, BR, BK, false> S;
  static constexpr bool SMEM_KCONTIG = false;
  static constexpr int VEC = (int(16 / sizeof(T)) < BK) ? int(16 / sizeof(T)) : BK;
  static constexpr int L = BK / VEC;
  static constexpr int CHUNKS = BR * L;
  static constexpr int CH = (CHUNKS + NT - 1) / NT;

  const T* p;
  i64 ld;
  int rows, K, r0, tid;
  bool vec_ok;  // p and ld allow 16-byte loads
  T v[CH][VEC];

  __device__ __forceinline__ DenseRegs(const T* p_, i64 ld_, int rows_, int K_, int r0_, int tid_)
      : p(p_), ld(ld_), rows(rows_), K(K_), r0(r0_), tid(tid_) {
    vec_ok = ((unsigned long long)p % 16 == 0) && (ld % VEC == 0);
  }

  __device__ __forceinline__ void load(T*, int k0) {
#pragma unroll
    for (int i = 0; i < CH; ++i) {
      const int c = tid + i * NT;
      if (CHUNKS % NT != 0 && c >= CHUNKS) break;
      const int r = r0 + c / L, k = k0 + (c % L) * VEC;
      const T* src = p + (i64)r * ld + k;
      if (r < rows && vec_ok && k + VEC <= K) {
        const uint4 u = *reinterpret_cast<const uint4*>(src);
        *reinterpret_cast<uint4*>(&v[i][0]) = u;
      } else {
#pragma unroll
        for (int j = 0; j < VEC; ++j) v[i][j] = (r < rows && k + j < K) ? src[j] : T();
      }
    }
  }
  __device__ __forceinline__ void store(T* s) const {
#pragma unroll
    for (int i = 0; i < CH; ++i) {
      const int c = tid + i * NT;
      if (CHUNKS % NT != 0 && c >= CHUNKS) break;
      const int o = c / L, l = (c % L) * VEC;
#pragma unroll
      for (int j = 0; j < VEC; ++j) s[(l + j) * S::LD + o] = v[i][j];
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Implicit im2col: the operand whose rows are output pixels j (all images of the batch, one
// after the other) and whose columns are reduction indices kk, element x[pixel j, tap kk].
// The host precomputes one Tap per kk (the layout's order: (c, r, s) for NCHW, (r, s, c) for
// NHWC), so no division by C, R or S runs per element: off = c*xc + r*dh*xh + s*dw*xw.
// ---------------------------------------------------------------------------------------------

struct __align__(16) Tap {
  i64 off;
  int rh;  // r * dilation_h
  int sw;  // s * dilation_w
};

struct Geo {
  int H, W, P, Wo, npix, kd, sh, sw, ph, pw;
  i64 xn, xh, xw;
};

struct Pix {
  i64 base;  // image offset + (ih0 * xh + iw0 * xw): add a Tap's off for the element
  int ih0, iw0;
};

__device__ __forceinline__ Pix pixel_at(const Geo& g, int j) {
  Pix q;
  if (j < g.npix) {
    const int img = j / g.P, p = j - img * g.P, ho = p / g.Wo, wo = p - ho * g.Wo;
    q.ih0 = ho * g.sh - g.ph;
    q.iw0 = wo * g.sw - g.pw;
    q.base = (i64)img * g.xn + (i64)q.ih0 * g.xh + (i64)q.iw0 * g.xw;
  } else {  // beyond the last pixel: every bounds test fails
    q.ih0 = -(1 << 30);
    q.iw0 = 0;
    q.base = 0;
  }
  return q;
}

__device__ __forceinline__ bool inside(const Geo& g, const Pix& q, const Tap& t) {
  return (unsigned)(q.ih0 + t.rh) < (unsigned)g.H && (unsigned)(q.iw0 + t.sw) < (unsigned)g.W;
}

// Any layout and type, scalar gathers into registers. Each thread keeps one pixel (its address
// computed once) for the whole reduction; consecutive lanes take consecutive pixels, so NCHW
// loads of stride-1 layers coalesce and the stores of a warp hit distinct banks.
template <typename T, int BR, int BK, int NT, bool KCONTIG_SMEM>
struct GatherRegs {
  typedef TileShape<T, BR, BK, KCONTIG_SMEM> S;
  static constexpr bool SMEM_KCONTIG = KCONTIG_SMEM;
  static_assert(NT % BR == 0, "each thread owns one pixel row of the tile");
  static constexpr int KSTEP = NT / BR;
  static constexpr int CH = BK / KSTEP;
  static_assert(BK % KSTEP == 0, "tile depth must split evenly over the threads");

  const T* x;
  const Tap* taps;
  Geo g;
  Pix q;
  int rl, kl;  // this thread's row in the tile, first k in the tile
  T v[CH];

  __device__ __forceinline__ GatherRegs(const T* x_, const Tap* taps_, const Geo& g_, int r0, int tid)
      : x(x_), taps(taps_), g(g_) {
    rl = tid % BR;
    kl = tid / BR;
    q = pixel_at(g, r0 + rl);
  }
  __device__ __forceinline__ void load(T*, int k0) {
#pragma unroll
    for (int i = 0; i < CH; ++i) {
      const int kk = k0 + kl + i * KSTEP;
      T e = T();
      if (kk < g.kd) {
        const Tap t = taps[kk];
        if (inside(g, q, t)) e = x[q.base + t.off];
      }
      v[i] = e;
    }
  }
  __device__ __forceinline__ void store(T* s) const {
#pragma unroll
    for (int i = 0; i < CH; ++i) s[S::at(rl, kl + i * KSTEP)] = v[i];
  }
};

// NHWC with C/groups a multiple of 16 bytes of channels: each 16-byte chunk is VEC consecutive
// channels of one pixel at one tap, copied by cp.async with zero fill for padding: the GPU form
// of convGemm (the image gathered straight into the GEMM's shared-memory tile, no workspace).
// Needs x, its strides and the group offset in whole 16-byte chunks (checked by the host).
template <typename T, int BR, int BK, int NT>
struct GatherAsync {
  typedef TileShape<T, BR, BK, true> S;
  static constexpr bool SMEM_KCONTIG = true;
  static constexpr int VEC = 16 / sizeof(T);
  static constexpr int L = BK / VEC;  // chunks per tile row
  static_assert(BK % VEC == 0 && NT % L == 0, "");
  static constexpr int RSTEP = NT / L;
  static constexpr int CH = BR / RSTEP;  // pixels per thread
  static_assert(BR % RSTEP == 0, "");

  const T* x;
  const Tap* taps;
  Geo g;
  Pix q[CH];
  int rl, kl;

  __device__ __forceinline__ GatherAsync(const T* x_, const Tap* taps_, const Geo& g_, int r0, int tid)
      : x(x_), taps(taps_), g(g_) {
    kl = (tid % L) * VEC;
    rl = tid / L;
#pragma unroll
    for (int i = 0; i < CH; ++i) q[i] = pixel_at(g, r0 + rl + i * RSTEP);
  }
  __device__ __forceinline__ void load(T* s, int k0) const {
    const int kk = k0 + kl;
    Tap t;
    const bool kin = kk < g.kd;  // kd is a multiple of VEC: a chunk is all in or all out
    if (kin) t = taps[kk];
#pragma unroll
    for (int i = 0; i < CH; ++i) {
      const bool ok = kin && inside(g, q[i], t);
      cp_async<16>(s + (rl + i * RSTEP) * S::LD + kl, ok ? x + q[i].base + t.off : x, ok ? 16 : 0);
    }
  }
  __device__ __forceinline__ void store(T*) const {}
};
