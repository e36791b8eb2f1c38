// conv2d, NDRange form: explicit im2col into GEMM panels, and implicit convGemm (the gather fused into the tile loads), with the fused epilogue.
//
// Per image n and group g (NDRange dimension 2, z = n*G + g) the convolution is the GEMM
// Y_g (K/g x P) = W_g (K/g x Kd) * X_g (Kd x P), Kd = (C/g)*R*S, P = Ho*Wo. The weights arrive
// packed in MWI-row blocks per group by pack.cl (mblocks per group, npan pixel panels per image
// and group: the NDRange rounded up to whole work groups, every item finds data). IMPLICIT=0: im2col_panels first writes X_g
// in the NWI-column panel layout the GEMM loop reads (bp[((z*npan + pan)*Kd + q)*NWI + j]);
// IMPLICIT=1: the group of work items gathers each KWG x (NWI*WGN) slice of X_g from x into
// local memory (conv_gather.cl) and computes from there, so no lowered matrix exists. The output
// block is written through the epilogue (bias, scale, shift, residual, relu/relu6) straight from the
// registers, with any output strides (NCHW, NHWC, channel slices).
//
// Tunables: those of block.cl plus WGM, WGN, KWG, M_FIRST as in gemm_ndrange.cl.
__kernel void im2col_panels(const int Kd, __global const REAL* restrict x, const long x_off, CONV_GEOM_ARGS,
                            const int G, const int npan, __global REAL* restrict dst)
{
    const int q = get_global_id(0), pan = get_global_id(1), z = get_global_id(2);
    if (q >= Kd) return;
    const long xb = x_off + (long)(z / G) * xn + (long)(z % G) * Cg * xc;
    __global REAL* d = dst + (((long)z * npan + pan) * Kd + q) * NWI;
    _Pragma("unroll") for (int j = 0; j < NWI; ++j) d[j] = conv_gather(x, xb, q, pan * NWI + j, CONV_GEOM);
}

__kernel __attribute__((reqd_work_group_size(M_FIRST ? WGM : WGN, M_FIRST ? WGN : WGM, 1)))
void conv_nd(const int m, const int Kd, const int G, const int mblocks, const int npan, __global const REAL* restrict ap,
             __global const REAL* restrict src, const long x_off, CONV_GEOM_ARGS,
             const int epi, const int act, __global const REAL* bias, __global const REAL* scale, __global const REAL* shift,
             __global REAL* restrict y, const long y_off, const long yn, const long yk, const long yp, __global const REAL* res, const long r_off, const long rn, const long rk, const long rp)
{
    const int gm = M_FIRST ? get_global_id(0) : get_global_id(1);
    const int gn = M_FIRST ? get_global_id(1) : get_global_id(0);
    const int z = get_global_id(2), img = z / G, g = z % G;
    const int i0 = gm * MWI, j0 = gn * NWI;
    BLOCK_ZERO(acc);
    __global const REAL* a = ap + ((long)g * mblocks + gm) * Kd * MWI;
#if IMPLICIT
    __local REAL bl[KWG][NWI * WGN];
    const int lm = M_FIRST ? get_local_id(0) : get_local_id(1);
    const int ln = M_FIRST ? get_local_id(1) : get_local_id(0);
    const int jg = (gn - ln) * NWI;  // first pixel of the group's tile
    const long xb = x_off + (long)img * xn + (long)g * Cg * xc;
    for (int p0 = 0; p0 < Kd; p0 += KWG) {
        const int kb = IMIN(KWG, Kd - p0);
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int e = lm * WGN + ln; e < kb * NWI * WGN; e += WGM * WGN) {
            const int r = e / (NWI * WGN), col = e % (NWI * WGN);
            bl[r][col] = conv_gather(src, xb, p0 + r, jg + col, CONV_GEOM);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int p = 0; p < kb; ++p, a += MWI) BLOCK_STEP(acc, a, &bl[p][ln * NWI])
    }
#else
    __global const REAL* b = src + ((long)z * npan + gn) * Kd * NWI;
    for (int p = 0; p < Kd; ++p, a += MWI, b += NWI) BLOCK_STEP(acc, a, b)
#endif

    BLOCK_EACH(acc, i0, j0, m, P, {
        const int ch = g * m + i0 + i;
        y[y_off + (long)img * yn + (long)ch * yk + (long)(j0 + j) * yp] = conv_epilogue(val, epi, act, bias, scale, shift, ch, res,
                                                                                    r_off + (long)img * rn + (long)ch * rk + (long)(j0 + j) * rp);
    })
}

// Implicit convGemm for CPUs (after hpca-uji/convGemm): the work item owns a panel of NWI output
// pixels and a range of MWI-row blocks of output channels. Per KC-deep chunk of the reduction it
// gathers the KC x NWI slice of the lowered matrix once into its local buffer (the packing step
// of a BLIS GEMM with the im2col gather fused in, no lowered matrix in memory), then runs every
// block of its channel range over it with the register-block loop. Chunks after the first add
// to the partial sums already stored in y; the last one applies the epilogue. One item per
// group, so the buffer is per-thread scratch on a CPU and no barrier splits the item's loops.
// The pixel coordinates of the panel are computed once, the tap decomposition once per row.
__kernel __attribute__((reqd_work_group_size(1, 1, 1)))
void convgemm_panel(const int m, const int Kd, const int G, const int mblocks, const int mchunk,
                    __global const REAL* restrict ap, __global const REAL* restrict x, const long x_off, CONV_GEOM_ARGS,
                    const int epi, const int act, __global const REAL* bias, __global const REAL* scale, __global const REAL* shift,
                    __global REAL* restrict y, const long y_off, const long yn, const long yk, const long yp, __global const REAL* res, const long r_off, const long rn, const long rk, const long rp)
{
    __local REAL bt[KC * NWI];
    const int gn = get_global_id(0), mr = get_global_id(1), z = get_global_id(2), img = z / G, g = z % G;
    const int j0 = gn * NWI;
    const long xb = x_off + (long)img * xn + (long)g * Cg * xc;
    int hb[NWI], wb[NWI];
    _Pragma("unroll") for (int j = 0; j < NWI; ++j) {
        const int pix = j0 + j, ho = pix / Wo;
        hb[j] = pix < P ? ho * sh - pt : -(1 << 29);  // pixels past the end: always outside
        wb[j] = (pix - ho * Wo) * sw - pl;
    }
    const int mb0 = mr * mchunk, mb1 = IMIN(mblocks, mb0 + mchunk);
    for (int p0 = 0; p0 < Kd; p0 += KC) {
        const int kb = IMIN(KC, Kd - p0);
        for (int r = 0; r < kb; ++r) {
            const int q = p0 + r, rs = R * S, c = q / rs, t = q - c * rs, rr = t / S, ss = t - rr * S;
            __global const REAL* xc_ = x + xb + c * xc;
            const int dr = rr * dh, ds = ss * dw;
            _Pragma("unroll") for (int j = 0; j < NWI; ++j) {
                const int h = hb[j] + dr, w = wb[j] + ds;
                bt[r * NWI + j] = (h >= 0 && h < H && w >= 0 && w < W) ? xc_[(long)h * xh + (long)w * xw] : ZERO;
            }
        }
        const bool first = p0 == 0, last = p0 + KC >= Kd;
        for (int mb = mb0; mb < mb1; ++mb) {
            BLOCK_ZERO(acc);
            __global const REAL* a = ap + (((long)g * mblocks + mb) * Kd + p0) * MWI;
            __local const REAL* b = bt;
            for (int p = 0; p < kb; ++p, a += MWI, b += NWI) BLOCK_STEP(acc, a, b)
            const int i0 = mb * MWI;
            BLOCK_EACH(acc, i0, j0, m, P, {
                const int ch = g * m + i0 + i;
                __global REAL* yp_ = y + y_off + (long)img * yn + (long)ch * yk + (long)(j0 + j) * yp;
                const REAL s = first ? val : *yp_ + val;
                *yp_ = last ? conv_epilogue(s, epi, act, bias, scale, shift, ch, res, r_off + (long)img * rn + (long)ch * rk + (long)(j0 + j) * rp) : s;
            })
        }
    }
}
