// GEMM, NDRange form: C := alpha * op(A) * op(B) + beta * C on packed panels, register blocks per work item, vector loads.
//
// The operands arrive packed by pack.cl (any strides and transposes are absorbed there, edges
// zero-padded): A in MWI-row blocks, block-major then k then row (ap[(blk*k + p)*MWI + i]),
// B in NWI-column panels (bp[(pan*k + p)*NWI + j]). Each work item owns one MWI x NWI block of
// C in registers (block.cl), so the loads per FMA fall as the block grows. A work group of
// WGM x WGN items owns an (MWI*WGM) x (NWI*WGN) tile; with SB=1 it stages KWG-deep slices of its
// B panels in local memory, read once per group instead of once per item row (GPUs); with SB=0
// items read their panel from global memory (CPUs, where local memory is only more cache and
// every barrier splits the work-item loops).
//
// Tunables (-D): REAL, VW (1, 2, 4, 8, 16), NVEC, MWI, WGM, WGN, KWG, SB, M_FIRST (1: dimension
// 0 of the NDRange walks down M, so consecutive work groups share one B panel in cache).
__kernel __attribute__((reqd_work_group_size(M_FIRST ? WGM : WGN, M_FIRST ? WGN : WGM, 1)))
void gemm_nd(const int m, const int n, const int k, const REAL alpha, const REAL beta,
             __global const REAL* restrict ap, __global const REAL* restrict bp,
             __global const REAL* cin, const long ci_off, const long rsci, const long csci,
             __global REAL* c, const long c_off, const long rsc, const long csc)
{
    const int gm = M_FIRST ? get_global_id(0) : get_global_id(1);
    const int gn = M_FIRST ? get_global_id(1) : get_global_id(0);
    const int i0 = gm * MWI, j0 = gn * NWI;
    BLOCK_ZERO(acc);
    __global const REAL* a = ap + (long)gm * k * MWI;
#if SB
    __local REAL bl[KWG][NWI * WGN];  // the group's B panels side by side, KWG rows at a time
    const int lm = M_FIRST ? get_local_id(0) : get_local_id(1);
    const int ln = M_FIRST ? get_local_id(1) : get_local_id(0);
    __global const REAL* bg = bp + (long)(gn - ln) * k * NWI;  // first panel of the group
    for (int p0 = 0; p0 < k; p0 += KWG) {
        const int kb = IMIN(KWG, k - p0);
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int e = lm * WGN + ln; e < kb * NWI * WGN; e += WGM * WGN) {
            const int r = e / (NWI * WGN), col = e % (NWI * WGN);
            bl[r][col] = bg[((long)(col / NWI) * k + p0 + r) * NWI + col % NWI];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int p = 0; p < kb; ++p, a += MWI) BLOCK_STEP(acc, a, &bl[p][ln * NWI])
    }
#else
    __global const REAL* b = bp + (long)gn * k * NWI;
    for (int p = 0; p < k; ++p, a += MWI, b += NWI) BLOCK_STEP(acc, a, b)
#endif

    // Write-back: beta*C is read from cin (c itself when updating in place, else the c of
    // gemm(..., c, out=...)); beta == 0 never reads it (BLAS: NaN/Inf in C do not leak). Scalar
    // stores: MWI*NWI per item against k*MWI*NWI FMAs, and no alignment or unit stride needed.
    BLOCK_EACH(acc, i0, j0, m, n, {
        const long ci = ci_off + (long)(i0 + i) * rsci + (long)(j0 + j) * csci;
        const REAL r = alpha * val;
        c[c_off + (long)(i0 + i) * rsc + (long)(j0 + j) * csc] = beta != ZERO ? beta * cin[ci] + r : r;
    })
}
