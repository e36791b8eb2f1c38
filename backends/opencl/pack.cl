// Packing of a strided matrix into PW-row blocks (the GEMM panels); rows past the end become zeros.
//
// X is R x K with X[r][p] = src[off + r*rs + p*cs] (any signs: transposes, slices and negative
// strides are just strides), dst[((r / PW) * K + p) * PW + r % PW]. The GEMM packs op(A) with
// PW = MWI and op(B)^T with PW = NWI, so its inner loop reads both operands contiguously and
// never tests an edge. One work item per (p, block) writes the PW consecutive elements of that
// k step (unrolled: PW is a build constant); dimension 0 runs along p, so neighbouring items
// read neighbouring source elements when X is row-major and the CPU driver vectorises across them.
// Dimension 2 runs over a batch of such matrices zs elements apart (matmul batches, conv groups),
// packed one after the other.
// `blocks` may exceed ceil(R / PW): the GEMM's NDRange is rounded up to whole work groups, and
// every work item it launches then reads a (zero) block instead of testing for the edge.
__kernel void pack_panels(const int rows, const int depth, __global const REAL* restrict src, const long off,
                          const long rs, const long cs, const long zs, const int blocks, __global REAL* restrict dst)
{
    const int p = get_global_id(0), blk = get_global_id(1), z = get_global_id(2);
    if (p >= depth) return;
    __global const REAL* s = src + off + z * zs + (long)blk * PW * rs + (long)p * cs;
    __global REAL* d = dst + (((long)z * blocks + blk) * depth + p) * PW;
    if ((blk + 1) * PW <= rows) {
        _Pragma("unroll") for (int r = 0; r < PW; ++r) d[r] = s[r * rs];
    } else {
        _Pragma("unroll") for (int r = 0; r < PW; ++r) d[r] = blk * PW + r < rows ? s[r * rs] : ZERO;
    }
}
