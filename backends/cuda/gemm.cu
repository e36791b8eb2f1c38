// GEMM kernels: C = alpha * op(A) op(B) + beta * C, batched, on CUDA cores (fp32, fp64) and tensor cores (fp16, bf16 and opt-in tf32, fp32 accumulation).
//
// Operand layouts are template parameters: A_KC means A(m, k) at A[m * lda + k] (row-major A, or
// a transposed column-major one), else A[k * lda + m]; B_KC means B(k, n) at B[n * ldb + k], else
// B[k * ldb + n]. With C's two element strides this covers both transposes, C and Fortran order
// and every leading dimension without copies. The batch index blockIdx.y splits into
// (z / batch2, z % batch2) with two strides per operand: NumPy matmul's broadcast batch
// dimensions, collapsed to at most two by the host.
#include "mainloop.cuh"

// The block's tile, batch offsets, loaders, pipeline and epilogue, for either kind of math.
template <int STAGES, int BK, class Math, class LA, class LB, class T>
__device__ __forceinline__ void gemm_block(int M, int N, int K, int batch2, const T* A, i64 lda, i64 as1, i64 as2,
                                           const T* B, i64 ldb, i64 bs1, i64 bs2, DenseOut<T> out, i64 cs1, i64 cs2,
                                           i64 is1, i64 is2) {
  const int tid = threadIdx.x;
  const int z = blockIdx.y, z1 = z / batch2, z2 = z - z1 * batch2;
  A += z1 * as1 + z2 * as2;
  B += z1 * bs1 + z2 * bs2;
  out.c += z1 * cs1 + z2 * cs2;
  out.cin += z1 * is1 + z2 * is2;
  int tm, tn;
  tile_of(blockIdx.x, (M + Math::BM_ - 1) / Math::BM_, (N + Math::BN_ - 1) / Math::BN_, tm, tn);
  const int m0 = tm * Math::BM_, n0 = tn * Math::BN_;
  LA la(A, lda, M, K, m0, tid);
  LB lb(B, ldb, N, K, n0, tid);
  Math math(tid);
  pipeline<STAGES, BK>(la, lb, K, dyn_smem, math);
  math.finish(out, m0, n0, M, N);
}

#define GEMM_PARAMS                                                                                       \
  int M, int N, int K, int batch2, const T *A, i64 lda, i64 as1, i64 as2, const T *B, i64 ldb, i64 bs1, \
      i64 bs2, T *C, i64 crs, i64 ccs, i64 cs1, i64 cs2, const T *Cin, i64 irs, i64 ics, i64 is1, i64 is2,  \
      typename AccOf<T>::type alpha, typename AccOf<T>::type beta

// CUDA cores: K-contiguous operands through registers (transposed into [k][r] tiles), the
// others by cp.async straight into their tiles.
template <typename T, int BM, int BN, int BK, int TM, int TN, int STAGES, bool A_KC, bool B_KC>
__global__ void __launch_bounds__((BM / TM) * (BN / TN)) gemm_simt(GEMM_PARAMS) {
  typedef SimtMath<T, BM, BN, BK, TM, TN> Math;
  constexpr int NT = Math::NT;
  typedef typename Pick<A_KC, DenseRegs<T, BM, BK, NT>, DenseAsync<T, BM, BK, NT, false> >::type LA;
  typedef typename Pick<B_KC, DenseRegs<T, BN, BK, NT>, DenseAsync<T, BN, BK, NT, false> >::type LB;
  DenseOut<T> out{C, crs, ccs, Cin, irs, ics, alpha, beta};
  gemm_block<STAGES, BK, Math, LA, LB>(M, N, K, batch2, A, lda, as1, as2, B, ldb, bs1, bs2, out, cs1, cs2, is1, is2);
}

// Tensor cores: both operands by cp.async in their own layout (ldmatrix.trans reads the
// [k][r] ones), warps of WM x WN.
template <typename T, int BM, int BN, int BK, int WM, int WN, int STAGES, bool A_KC, bool B_KC>
__global__ void __launch_bounds__((BM / WM) * (BN / WN) * 32) gemm_tc(GEMM_PARAMS) {
  typedef TcMath<T, BM, BN, BK, WM, WN, A_KC, B_KC> Math;
  constexpr int NT = Math::NT;
  typedef DenseAsync<T, BM, BK, NT, A_KC> LA;
  typedef DenseAsync<T, BN, BK, NT, B_KC> LB;
  DenseOut<T> out{C, crs, ccs, Cin, irs, ics, alpha, beta};
  gemm_block<STAGES, BK, Math, LA, LB>(M, N, K, batch2, A, lda, as1, as2, B, ldb, bs1, bs2, out, cs1, cs2, is1, is2);
}
