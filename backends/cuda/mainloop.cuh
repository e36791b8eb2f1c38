// The block-level GEMM: a multistage shared-memory pipeline around CUDA-core (SIMT) or tensor-core (mma.sync) tile math, and the output policies.
//
// One thread block computes a BM x BN tile of C over the whole reduction. The pipeline keeps
// STAGES tiles of A and B in shared memory: while tile kt is multiplied, the loads of tile
// kt + STAGES - 1 are in flight (cp.async groups, or registers for the register loaders, stored
// after the math), so global latency hides behind STAGES - 1 tiles of work. One barrier per tile.
#pragma once
#include "loaders.cuh"

// ---------------------------------------------------------------------------------------------
// Output policies: where C(r, c) goes and what the epilogue does to it. The math resolves a Key
// once per distinct row and column a thread owns (8-16 of each), then put() runs per element:
// address arithmetic and per-channel epilogue terms are hoisted out of the element loop.
// ---------------------------------------------------------------------------------------------

// GEMM: C = alpha * acc + beta * Cin, element strides for both (views, transposes, batches).
// beta == 0 never reads Cin (BLAS: NaN/Inf in C do not leak).
template <typename T>
struct DenseOut {
  typedef typename AccOf<T>::type A;
  struct Key {
    i64 off, ioff;
  };
  T* c;
  i64 rs, cs;
  const T* cin;
  i64 irs, ics;
  A alpha, beta;
  __device__ __forceinline__ Key row(int r) const { return Key{r * rs, r * irs}; }
  __device__ __forceinline__ Key col(int c_) const { return Key{c_ * cs, c_ * ics}; }
  __device__ __forceinline__ void put(const Key& r, const Key& c_, A v) const {
    A y = alpha * v;
    if (beta != A(0)) y += beta * to_acc(cin[r.ioff + c_.ioff]);
    c[r.off + c_.off] = from_acc<T>(y);
  }
};

// Convolution: one GEMM per group whose pixel index runs over all images. PIX_ROWS: the rows of
// the GEMM are pixels and its columns channels (NHWC: adjacent columns are adjacent in memory),
// else the transpose (NCHW). The epilogue act(scale * (acc + bias) + shift) is folded per
// channel into act(mul * acc + add), mul = scale, add = scale * bias + shift (one FMA); a
// residual (laid out with y's strides) adds res[off] before act.
template <typename T, bool PIX_ROWS>
struct ConvOut {
  typedef typename AccOf<T>::type A;
  struct Key {
    i64 off;
    A mul, add;
  };
  T* y;
  i64 yn, yk, yp;  // image, channel and pixel strides of y (H and W form one pixel stride)
  int P, ch0;      // pixels per image, first channel of this group
  Epilogue<T> ep;
  __device__ __forceinline__ Key pixel(int j) const {
    const int img = j / P, p = j - img * P;
    return Key{(i64)img * yn + (i64)p * yp, A(1), A(0)};
  }
  __device__ __forceinline__ Key channel(int c) const {
    const int ch = ch0 + c;
    const A b = ep.bias ? to_acc(ep.bias[ch]) : A(0);
    const A m = ep.scale ? to_acc(ep.scale[ch]) : A(1);
    const A sh = ep.shift ? to_acc(ep.shift[ch]) : A(0);
    return Key{(i64)ch * yk, m, m * b + sh};
  }
  __device__ __forceinline__ Key row(int r) const { return PIX_ROWS ? pixel(r) : channel(r); }
  __device__ __forceinline__ Key col(int c) const { return PIX_ROWS ? channel(c) : pixel(c); }
  __device__ __forceinline__ void put(const Key& r, const Key& c, A v) const {
    const Key& ch = PIX_ROWS ? c : r;
    v = ch.mul * v + ch.add;
    if (ep.res) v += to_acc(ep.res[r.off + c.off]);
    if (ep.act != ACT_NONE) {  // compares, not fmax: NaN propagates, as on the CPU
      v = v < A(0) ? A(0) : v;
      if (ep.act == ACT_RELU6) v = v > A(6) ? A(6) : v;
    }
    y[r.off + c.off] = from_acc<T>(v);
  }
};

// Tile order: groups of 8 tile rows walk the columns together, so the A rows and B columns a
// wave of blocks reads stay in L2 (CUTLASS's threadblock swizzle).
__device__ __forceinline__ void tile_of(int bid, int tiles_m, int tiles_n, int& tm, int& tn) {
  const int G = 8;
  const int group = bid / (G * tiles_n);
  const int first = group * G;
  const int gm = min(tiles_m - first, G);
  const int in = bid - group * G * tiles_n;
  tm = first + in % gm;
  tn = in / gm;
}

// ---------------------------------------------------------------------------------------------
// The pipeline, shared by both kinds of math. Math::compute(sa, sb) multiplies one stage.
// ---------------------------------------------------------------------------------------------

template <int STAGES, int BK, class LA, class LB, class Math>
__device__ __forceinline__ void pipeline(LA& la, LB& lb, int K, void* smem, Math& math) {
  static_assert(STAGES >= 2, "double buffering at least");
  constexpr int EA = LA::S::ELEMS, EB = LB::S::ELEMS;
  typedef typename Math::T T;
  T* sa = reinterpret_cast<T*>(smem);
  T* sb = sa + STAGES * EA;
  const int nk = (K + BK - 1) / BK;
#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < nk) {
      la.load(sa + s * EA, s * BK);
      lb.load(sb + s * EB, s * BK);
      la.store(sa + s * EA);
      lb.store(sb + s * EB);
    }
    cp_async_commit();
  }
  cp_async_wait<STAGES - 2>();
  __syncthreads();
  int rs = 0, ws = STAGES - 1;
  for (int kt = 0; kt < nk; ++kt) {
    const int nt = kt + STAGES - 1;
    if (nt < nk) {  // the stage written here was last read in iteration kt - 1 (barrier since)
      la.load(sa + ws * EA, nt * BK);
      lb.load(sb + ws * EB, nt * BK);
    }
    cp_async_commit();
    math.compute(sa + rs * EA, sb + rs * EB);
    if (nt < nk) {
      la.store(sa + ws * EA);
      lb.store(sb + ws * EB);
    }
    cp_async_wait<STAGES - 2>();  // tile kt + 1 has landed
    __syncthreads();
    rs = rs + 1 == STAGES ? 0 : rs + 1;
    ws = ws + 1 == STAGES ? 0 : ws + 1;
  }
}

// ---------------------------------------------------------------------------------------------
// CUDA-core math: TM x TN accumulators per thread, read from [k][r] tiles as 16-byte vectors.
// A thread's rows are TM/4 runs of 4, BM/(TM/4) apart (and likewise its columns), so the 16
// lanes of a half-warp read 16 consecutive vectors: no bank conflicts, and the 4-wide runs are
// what the vector loads fetch.
// ---------------------------------------------------------------------------------------------

__device__ __forceinline__ void lds4(const float* p, float* o) {
  const float4 v = *reinterpret_cast<const float4*>(p);
  o[0] = v.x; o[1] = v.y; o[2] = v.z; o[3] = v.w;
}
__device__ __forceinline__ void lds4(const double* p, double* o) {
  const double2 v0 = reinterpret_cast<const double2*>(p)[0], v1 = reinterpret_cast<const double2*>(p)[1];
  o[0] = v0.x; o[1] = v0.y; o[2] = v1.x; o[3] = v1.y;
}

template <typename T_, int BM, int BN, int BK, int TM, int TN>
struct SimtMath {
  typedef T_ T;
  typedef typename AccOf<T>::type A;
  static constexpr int BM_ = BM, BN_ = BN;
  static constexpr int TX = BN / TN;  // threads along N
  static constexpr int NT = (BM / TM) * TX;
  static constexpr int LDA = TileShape<T, BM, BK, false>::LD, LDB = TileShape<T, BN, BK, false>::LD;
  static_assert(TM % 4 == 0 && TN % 4 == 0, "thread tiles are runs of 4");
  A acc[TM][TN];
  int tr, tc;

  __device__ __forceinline__ SimtMath(int tid) {
    tr = tid / TX;
    tc = tid % TX;
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; ++j) acc[i][j] = A(0);
  }
  static __device__ __forceinline__ int row(int tr_, int i) { return (i / 4) * (BM / (TM / 4)) + tr_ * 4 + i % 4; }
  static __device__ __forceinline__ int col(int tc_, int j) { return (j / 4) * (BN / (TN / 4)) + tc_ * 4 + j % 4; }

  __device__ __forceinline__ void compute(const T* sa, const T* sb) {
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      T a[TM], b[TN];
#pragma unroll
      for (int i = 0; i < TM / 4; ++i) lds4(sa + k * LDA + i * (BM / (TM / 4)) + tr * 4, a + 4 * i);
#pragma unroll
      for (int j = 0; j < TN / 4; ++j) lds4(sb + k * LDB + j * (BN / (TN / 4)) + tc * 4, b + 4 * j);
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] += A(a[i]) * A(b[j]);  // one FFMA/DFMA each
    }
  }
  template <class Out>
  __device__ __forceinline__ void finish(const Out& out, int m0, int n0, int M, int N) const {
    typename Out::Key ck[TN];
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int c = n0 + col(tc, j);
      if (c < N) ck[j] = out.col(c);
    }
#pragma unroll
    for (int i = 0; i < TM; ++i) {
      const int r = m0 + row(tr, i);
      if (r >= M) continue;
      const typename Out::Key rk = out.row(r);
#pragma unroll
      for (int j = 0; j < TN; ++j)
        if (n0 + col(tc, j) < N) out.put(rk, ck[j], acc[i][j]);
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Tensor-core math: warps of WM x WN, each a grid of 16x8 mma.sync tiles with fp32 accumulators.
// 16-bit operands reach registers through ldmatrix (.trans for [k][r] tiles); tf32 fragments
// are read element by element (ldmatrix moves 16-bit units) and rounded with cvt.rna.tf32.
// ---------------------------------------------------------------------------------------------

template <typename T_, int BM, int BN, int BK, int WM, int WN, bool A_KC, bool B_KC>
struct TcMath {
  typedef T_ T;
  typedef float A;
  typedef TileShape<T, BM, BK, A_KC> SA;
  typedef TileShape<T, BN, BK, B_KC> SB;
  static constexpr int BM_ = BM, BN_ = BN;
  static constexpr int WARPS_N = BN / WN;
  static constexpr int NT = (BM / WM) * WARPS_N * 32;
  static constexpr int MI = WM / 16, NI = WN / 8;
  static constexpr int KS = Mma<T>::K;
  static_assert(WM % 16 == 0 && WN % 16 == 0 && BK % KS == 0, "");
  float acc[MI][NI][4];
  int wm0, wn0, lane;

  __device__ __forceinline__ TcMath(int tid) {
    const int warp = tid / 32;
    lane = tid % 32;
    wm0 = (warp / WARPS_N) * WM;
    wn0 = (warp % WARPS_N) * WN;
#pragma unroll
    for (int i = 0; i < MI; ++i)
#pragma unroll
      for (int j = 0; j < NI; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.f;
  }

  __device__ __forceinline__ void frag_a(unsigned (&a)[MI][4], const T* s, int kk) const {
    if constexpr (sizeof(T) == 2) {
#pragma unroll
      for (int mi = 0; mi < MI; ++mi) {
        if constexpr (A_KC)
          ldmatrix_x4(a[mi], s + SA::at(wm0 + mi * 16 + (lane & 15), kk + (lane >> 4) * 8));
        else {
          const int q = lane >> 3, i = lane & 7;
          ldmatrix_x4_trans(a[mi], s + SA::at(wm0 + mi * 16 + (q & 1) * 8, kk + i + (q >> 1) * 8));
        }
      }
    } else {
      const int g = lane >> 2, t = lane & 3;
#pragma unroll
      for (int mi = 0; mi < MI; ++mi) {
        const int r = wm0 + mi * 16 + g;
        a[mi][0] = to_tf32(s[SA::at(r, kk + t)]);
        a[mi][1] = to_tf32(s[SA::at(r + 8, kk + t)]);
        a[mi][2] = to_tf32(s[SA::at(r, kk + t + 4)]);
        a[mi][3] = to_tf32(s[SA::at(r + 8, kk + t + 4)]);
      }
    }
  }
  __device__ __forceinline__ void frag_b(unsigned (&b)[NI][2], const T* s, int kk) const {
    if constexpr (sizeof(T) == 2) {
#pragma unroll
      for (int nj = 0; nj < NI / 2; ++nj) {
        unsigned r[4];
        if constexpr (B_KC)
          ldmatrix_x4(r, s + SB::at(wn0 + nj * 16 + (lane & 7) + (lane >> 4) * 8, kk + ((lane >> 3) & 1) * 8));
        else
          ldmatrix_x4_trans(r, s + SB::at(wn0 + nj * 16 + (lane >> 4) * 8, kk + (lane & 7) + ((lane >> 3) & 1) * 8));
        b[2 * nj][0] = r[0];
        b[2 * nj][1] = r[1];
        b[2 * nj + 1][0] = r[2];
        b[2 * nj + 1][1] = r[3];
      }
    } else {
      const int g = lane >> 2, t = lane & 3;
#pragma unroll
      for (int ni = 0; ni < NI; ++ni) {
        const int c = wn0 + ni * 8 + g;
        b[ni][0] = to_tf32(s[SB::at(c, kk + t)]);
        b[ni][1] = to_tf32(s[SB::at(c, kk + t + 4)]);
      }
    }
  }

  __device__ __forceinline__ void compute(const T* sa, const T* sb) {
#pragma unroll
    for (int kk = 0; kk < BK; kk += KS) {
      unsigned a[MI][4], b[NI][2];
      frag_a(a, sa, kk);
      frag_b(b, sb, kk);
#pragma unroll
      for (int mi = 0; mi < MI; ++mi)
#pragma unroll
        for (int ni = 0; ni < NI; ++ni) Mma<T>::run(acc[mi][ni], a[mi], b[ni]);
    }
  }
  template <class Out>
  __device__ __forceinline__ void finish(const Out& out, int m0, int n0, int M, int N) const {
    const int g = lane >> 2, t = lane & 3;
    typename Out::Key ck[NI][2];
#pragma unroll
    for (int ni = 0; ni < NI; ++ni)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int c = n0 + wn0 + ni * 8 + 2 * t + e;
        if (c < N) ck[ni][e] = out.col(c);
      }
#pragma unroll
    for (int mi = 0; mi < MI; ++mi)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int r = m0 + wm0 + mi * 16 + g + h * 8;
        if (r >= M) continue;
        const typename Out::Key rk = out.row(r);
#pragma unroll
        for (int ni = 0; ni < NI; ++ni)
#pragma unroll
          for (int e = 0; e < 2; ++e)
            if (n0 + wn0 + ni * 8 + 2 * t + e < N) out.put(rk, ck[ni][e], acc[mi][ni][2 * h + e]);
      }
  }
};

// Dynamic shared memory of every kernel: STAGES tiles of A and of B (the host computes the
// same number from the same formula to size the launch).
extern __shared__ __align__(16) unsigned char dyn_smem[];
