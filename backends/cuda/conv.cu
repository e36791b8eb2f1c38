// Convolution kernels: implicit GEMM gathering the input tiles straight from x (the GPU form of convGemm), the GEMM of explicit im2col / 1x1 layers, and the im2col lowering.
//
// Per group g the convolution is the GEMM  Y_g = W_g (Kg x kd) * X_g (kd x npix), where kd =
// (C/g)*R*S and the npix = N*Ho*Wo pixels of every image form one long dimension (a batch of
// small images still fills the GPU). NCHW runs it in that orientation; NHWC runs the transpose
// (rows = pixels, columns = channels), so adjacent output columns are adjacent in memory and, on
// the implicit path, a tile row of X is a run of contiguous channels. Weights come packed by the
// host as [G][Kg][ldw] in the layout's reduction order ((c, r, s) NCHW, (r, s, c) NHWC), rows
// zero-padded to 16 bytes. blockIdx.y is the group. The fused epilogue is the CPU backend's:
// y = act(scale * (acc + bias) + shift + residual).
#include "mainloop.cuh"

// res: the residual with y's strides (null: none).
#define CONV_OUT_PARAMS \
  T *y, i64 yn, i64 yk, i64 yp, int P, const T *bias, const T *scale, const T *shift, int act, const T *res
#define CONV_OUT_ARGS y, yn, yk, yp, P, g * Kg, bias, scale, shift, act, res

template <typename T, bool PIX_ROWS>
__device__ __forceinline__ ConvOut<T, PIX_ROWS> conv_out(T* y, i64 yn, i64 yk, i64 yp, int P, int ch0, const T* bias,
                                                         const T* scale, const T* shift, int act, const T* res) {
  ConvOut<T, PIX_ROWS> o;
  o.y = y; o.yn = yn; o.yk = yk; o.yp = yp; o.P = P; o.ch0 = ch0;
  o.ep.bias = bias; o.ep.scale = scale; o.ep.shift = shift; o.ep.act = act; o.ep.res = res;
  return o;
}

template <int STAGES, int BK, class Math, class LA, class LB, class Out>
__device__ __forceinline__ void conv_block(LA& la, LB& lb, int M, int N, int K, int m0, int n0, const Out& out) {
  Math math(threadIdx.x);
  pipeline<STAGES, BK>(la, lb, K, dyn_smem, math);
  math.finish(out, m0, n0, M, N);
}

__device__ __forceinline__ void conv_tile(int M, int N, int BM, int BN, int& m0, int& n0) {
  int tm, tn;
  tile_of(blockIdx.x, (M + BM - 1) / BM, (N + BN - 1) / BN, tm, tn);
  m0 = tm * BM;
  n0 = tn * BN;
}

// ---------------------------------------------------------------------------------------------
// Implicit GEMM: taps[kk] (host-built, see loaders.cuh) locates reduction index kk in x.
// ---------------------------------------------------------------------------------------------

#define IMPLICIT_PARAMS                                                                                   \
  int Kg, int kd, int ldw, int npix, int H, int W, int Wo, int sh, int sw, int ph, int pw, const T *x,   \
      i64 xn, i64 xh, i64 xw, i64 xg, const Tap *taps, const T *w, CONV_OUT_PARAMS

#define IMPLICIT_SETUP                                                                                    \
  const int g = blockIdx.y;                                                                               \
  Geo geo;                                                                                                \
  geo.H = H; geo.W = W; geo.P = P; geo.Wo = Wo; geo.npix = npix; geo.kd = kd;                             \
  geo.sh = sh; geo.sw = sw; geo.ph = ph; geo.pw = pw; geo.xn = xn; geo.xh = xh; geo.xw = xw;              \
  const T* xg_ = x + g * xg;                                                                              \
  const T* wg_ = w + (i64)g * Kg * ldw;                                                                   \
  const int M = PIX_ROWS ? npix : Kg, N = PIX_ROWS ? Kg : npix;                                           \
  int m0, n0;                                                                                             \
  conv_tile(M, N, BM, BN, m0, n0);                                                                        \
  const ConvOut<T, PIX_ROWS> out = conv_out<T, PIX_ROWS>(CONV_OUT_ARGS)

template <typename T, int BM, int BN, int BK, int TM, int TN, int STAGES, bool PIX_ROWS>
__global__ void __launch_bounds__((BM / TM) * (BN / TN)) conv_implicit_simt(IMPLICIT_PARAMS) {
  typedef SimtMath<T, BM, BN, BK, TM, TN> Math;
  constexpr int NT = Math::NT;
  IMPLICIT_SETUP;
  if constexpr (PIX_ROWS) {
    GatherRegs<T, BM, BK, NT, false> la(xg_, taps, geo, m0, threadIdx.x);
    DenseRegs<T, BN, BK, NT> lb(wg_, ldw, Kg, kd, n0, threadIdx.x);
    conv_block<STAGES, BK, Math>(la, lb, M, N, kd, m0, n0, out);
  } else {
    DenseRegs<T, BM, BK, NT> la(wg_, ldw, Kg, kd, m0, threadIdx.x);
    GatherRegs<T, BN, BK, NT, false> lb(xg_, taps, geo, n0, threadIdx.x);
    conv_block<STAGES, BK, Math>(la, lb, M, N, kd, m0, n0, out);
  }
}

// ASYNC (NHWC only): 16-byte cp.async gathers of channel runs; else scalar register gathers.
template <typename T, int BM, int BN, int BK, int WM, int WN, int STAGES, bool PIX_ROWS, bool ASYNC>
__global__ void __launch_bounds__((BM / WM) * (BN / WN) * 32) conv_implicit_tc(IMPLICIT_PARAMS) {
  static_assert(PIX_ROWS || !ASYNC, "the cp.async gather needs NHWC");
  constexpr int NT = (BM / WM) * (BN / WN) * 32;
  IMPLICIT_SETUP;
  if constexpr (PIX_ROWS) {
    typedef typename Pick<ASYNC, GatherAsync<T, BM, BK, NT>, GatherRegs<T, BM, BK, NT, false> >::type LA;
    typedef TcMath<T, BM, BN, BK, WM, WN, LA::SMEM_KCONTIG, true> Math;
    LA la(xg_, taps, geo, m0, threadIdx.x);
    DenseAsync<T, BN, BK, NT, true> lb(wg_, ldw, Kg, kd, n0, threadIdx.x);
    conv_block<STAGES, BK, Math>(la, lb, M, N, kd, m0, n0, out);
  } else {
    typedef TcMath<T, BM, BN, BK, WM, WN, true, false> Math;
    DenseAsync<T, BM, BK, NT, true> la(wg_, ldw, Kg, kd, m0, threadIdx.x);
    GatherRegs<T, BN, BK, NT, false> lb(xg_, taps, geo, n0, threadIdx.x);
    conv_block<STAGES, BK, Math>(la, lb, M, N, kd, m0, n0, out);
  }
}

// ---------------------------------------------------------------------------------------------
// Dense operands into the convolution epilogue: explicit im2col (A = weights, B = the lowered
// columns for NCHW; A = columns, B = weights for NHWC) and 1x1 stride-1 layers (x itself).
// ag, bg: offsets of group g's operands.
// ---------------------------------------------------------------------------------------------

#define DENSE_CONV_PARAMS \
  int M, int N, int K, int Kg, const T *A, i64 lda, i64 ag, const T *B, i64 ldb, i64 bg, CONV_OUT_PARAMS

template <typename T, int BM, int BN, int BK, int TM, int TN, int STAGES, bool A_KC, bool B_KC, bool PIX_ROWS>
__global__ void __launch_bounds__((BM / TM) * (BN / TN)) conv_gemm_simt(DENSE_CONV_PARAMS) {
  typedef SimtMath<T, BM, BN, BK, TM, TN> Math;
  constexpr int NT = Math::NT;
  typedef typename Pick<A_KC, DenseRegs<T, BM, BK, NT>, DenseAsync<T, BM, BK, NT, false> >::type LA;
  typedef typename Pick<B_KC, DenseRegs<T, BN, BK, NT>, DenseAsync<T, BN, BK, NT, false> >::type LB;
  const int g = blockIdx.y;
  int m0, n0;
  conv_tile(M, N, BM, BN, m0, n0);
  LA la(A + g * ag, lda, M, K, m0, threadIdx.x);
  LB lb(B + g * bg, ldb, N, K, n0, threadIdx.x);
  conv_block<STAGES, BK, Math>(la, lb, M, N, K, m0, n0, conv_out<T, PIX_ROWS>(CONV_OUT_ARGS));
}

template <typename T, int BM, int BN, int BK, int WM, int WN, int STAGES, bool A_KC, bool B_KC, bool PIX_ROWS>
__global__ void __launch_bounds__((BM / WM) * (BN / WN) * 32) conv_gemm_tc(DENSE_CONV_PARAMS) {
  typedef TcMath<T, BM, BN, BK, WM, WN, A_KC, B_KC> Math;
  constexpr int NT = Math::NT;
  const int g = blockIdx.y;
  int m0, n0;
  conv_tile(M, N, BM, BN, m0, n0);
  DenseAsync<T, BM, BK, NT, A_KC> la(A + g * ag, lda, M, K, m0, threadIdx.x);
  DenseAsync<T, BN, BK, NT, B_KC> lb(B + g * bg, ldb, N, K, n0, threadIdx.x);
  conv_block<STAGES, BK, Math>(la, lb, M, N, K, m0, n0, conv_out<T, PIX_ROWS>(CONV_OUT_ARGS));
}

// ---------------------------------------------------------------------------------------------
// Explicit im2col: group g's lowered matrix, [kd][ldc] for NCHW (torch unfold's rows, images
// side by side) or [npix][ldc] for NHWC, rows padded with zeros to ldc (16-byte aligned rows
// for the GEMM's cp.async). One thread per element, consecutive threads along a row.
// ---------------------------------------------------------------------------------------------

template <typename T, bool NHWC>
__global__ void __launch_bounds__(256) im2col(int kd, int ldc, int npix, int H, int W, int P, int Wo, int sh, int sw, int ph,
                                              int pw, const T* x, i64 xn, i64 xh, i64 xw, i64 xg, const Tap* taps, T* cols,
                                              i64 cols_g) {
  Geo geo;
  geo.H = H; geo.W = W; geo.P = P; geo.Wo = Wo; geo.npix = npix; geo.kd = kd;
  geo.sh = sh; geo.sw = sw; geo.ph = ph; geo.pw = pw; geo.xn = xn; geo.xh = xh; geo.xw = xw;
  const int g = blockIdx.y;
  x += g * xg;
  cols += g * cols_g;
  const i64 total = (i64)(NHWC ? npix : kd) * ldc;
  for (i64 e = (i64)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (i64)gridDim.x * blockDim.x) {
    const int row = (int)(e / ldc), in = (int)(e - (i64)row * ldc);
    const int j = NHWC ? row : in, kk = NHWC ? in : row;
    T v = T();
    if (kk < kd) {  // pixel_at makes every tap of a pixel j >= npix fail the bounds test
      const Tap t = taps[kk];
      const Pix q = pixel_at(geo, j);
      if (inside(geo, q, t)) v = x[q.base + t.off];
    }
    cols[e] = v;
  }
}
