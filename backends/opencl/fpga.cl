// GEMM and conv2d, FPGA form: single work-item kernels, fixed-size tiles, fully unrolled multiply-add arrays.
//
// The shape Intel's (aoc) and Xilinx's (v++) OpenCL compilers pipeline: one work item walks the
// tiles of C in loops; per TK-deep chunk it fills on-chip buffers of A (TK x TM) and B (TK x TN)
// and runs a k loop whose body is a fully unrolled TM x TN array of multiply-adds on register
// accumulators, so the compiler builds TM*TN MAC units and issues one k step per clock
// (initiation interval 1: no loop-carried dependence except the accumulators, which are per
// unit). Tile sizes are build constants (-D TM, TN, TK), as they must be for hardware.
// On an FPGA the NDRange is one work item; elsewhere (PoCL) several copies may run, each taking
// every get_global_size(0)-th band of TM rows (and, for conv, of images and groups).
//
// gemm_fpga reads A, B and C through element strides (transposes and views need no copies);
// conv_fpga gathers its B chunk from x (conv_gather.cl) and writes through the epilogue.

#define ACC_ZERO(acc)                                                                  \
    REAL acc[TM][TN];                                                                  \
    _Pragma("unroll") for (int i = 0; i < TM; ++i)                                     \
        _Pragma("unroll") for (int j = 0; j < TN; ++j) acc[i][j] = ZERO

// acc += A B over the whole depth, TK-deep chunks through the on-chip buffers at and bt, then the
// unrolled TM x TN multiply-add array per k step. A_AT(i, q) and B_AT(q, j) are the element
// expressions of the kernel at hand (row ti + i, column tj + j of the tile, reduction index q).
#define TILE_PRODUCT(acc, depth)                                                       \
    for (int p0 = 0; p0 < (depth); p0 += TK) {                                         \
        const int kb = IMIN(TK, (depth) - p0);                                         \
        REAL at[TK][TM], bt[TK][TN];                                                   \
        for (int p = 0; p < kb; ++p) {                                                 \
            _Pragma("unroll") for (int i = 0; i < TM; ++i) at[p][i] = A_AT(i, p0 + p); \
            _Pragma("unroll") for (int j = 0; j < TN; ++j) bt[p][j] = B_AT(p0 + p, j); \
        }                                                                              \
        for (int p = 0; p < kb; ++p) {                                                 \
            _Pragma("unroll") for (int i = 0; i < TM; ++i)                             \
                _Pragma("unroll") for (int j = 0; j < TN; ++j) acc[i][j] = at[p][i] * bt[p][j] + acc[i][j]; \
        }                                                                              \
    }

__kernel __attribute__((reqd_work_group_size(1, 1, 1)))
void gemm_fpga(const int m, const int n, const int k, const REAL alpha, const REAL beta,
               __global const REAL* restrict a, const long a_off, const long rsa, const long csa,
               __global const REAL* restrict b, const long b_off, const long rsb, const long csb,
               __global const REAL* cin, const long ci_off, const long rsci, const long csci,
               __global REAL* c, const long c_off, const long rsc, const long csc)
{
    const int band = get_global_id(0), bands = get_global_size(0);
    for (int ti = band * TM; ti < m; ti += bands * TM) {
        for (int tj = 0; tj < n; tj += TN) {
            ACC_ZERO(acc);
#define A_AT(i, q) (ti + (i) < m ? a[a_off + (long)(ti + (i)) * rsa + (long)(q) * csa] : ZERO)
#define B_AT(q, j) (tj + (j) < n ? b[b_off + (long)(q) * rsb + (long)(tj + (j)) * csb] : ZERO)
            TILE_PRODUCT(acc, k)
#undef A_AT
#undef B_AT
            // beta*C read from cin (c itself in place); beta == 0 never reads it.
            _Pragma("unroll") for (int i = 0; i < TM; ++i)
                _Pragma("unroll") for (int j = 0; j < TN; ++j) {
                    if (ti + i < m && tj + j < n) {
                        __global REAL* cp = c + c_off + (long)(ti + i) * rsc + (long)(tj + j) * csc;
                        const REAL r = alpha * acc[i][j];
                        *cp = beta != ZERO ? beta * cin[ci_off + (long)(ti + i) * rsci + (long)(tj + j) * csci] + r : r;
                    }
                }
        }
    }
}

// Y_g = W_g * X_g per image and group (see conv_ndrange.cl); w is (K, Kd) row-major.
__kernel __attribute__((reqd_work_group_size(1, 1, 1)))
void conv_fpga(const int m, const int Kd, const int G, const int nz, __global const REAL* restrict w, const long w_off,
               __global const REAL* restrict x, const long x_off, CONV_GEOM_ARGS,
               const int epi, const int act, __global const REAL* bias, __global const REAL* scale, __global const REAL* shift,
               __global REAL* restrict y, const long y_off, const long yn, const long yk, const long yp, __global const REAL* res, const long r_off, const long rn, const long rk, const long rp)
{
    const int band = get_global_id(0), bands = get_global_size(0);
    const int mt = (m + TM - 1) / TM;
    for (int t = band; t < nz * mt; t += bands) {
        const int z = t / mt, ti = (t % mt) * TM, img = z / G, g = z % G;
        const long xb = x_off + (long)img * xn + (long)g * Cg * xc;
        __global const REAL* wg = w + w_off + (long)g * m * Kd;
        for (int tj = 0; tj < P; tj += TN) {
            ACC_ZERO(acc);
#define A_AT(i, q) (ti + (i) < m ? wg[(long)(ti + (i)) * Kd + (q)] : ZERO)
#define B_AT(q, j) conv_gather(x, xb, (q), tj + (j), CONV_GEOM)
            TILE_PRODUCT(acc, Kd)
#undef A_AT
#undef B_AT
            _Pragma("unroll") for (int i = 0; i < TM; ++i) {
                const int ch = g * m + ti + i;
                __global REAL* yr = y + y_off + (long)img * yn + (long)ch * yk;
                _Pragma("unroll") for (int j = 0; j < TN; ++j)
                    if (ti + i < m && tj + j < P) yr[(long)(tj + j) * yp] = conv_epilogue(acc[i][j], epi, act, bias, scale, shift, ch, res,
                                                                     r_off + (long)img * rn + (long)ch * rk + (long)(tj + j) * rp);
            }
        }
    }
}
