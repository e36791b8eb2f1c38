// Stores of a contiguous 4-D block into a strided array: every element of dst's view written once
// and no byte between them (what pyopencl's assignment cannot do for a strided view). conv2d uses
// it for an output whose reduction is empty (C == 0: the epilogue of a zero sum).
//
// dst[off + i0*s0 + i1*s1 + i2*s2 + i3*s3] = src[((i0*n1 + i1)*n2 + i2)*n3 + i3]; the NDRange is
// (n3, n2, n0*n1). Strides are in elements and may be 0 or negative on axes of length 1.
__kernel void scatter4(__global const REAL* restrict src, __global REAL* restrict dst, const long off, const long s0,
                       const long s1, const long s2, const long s3, const int n1, const int n2, const int n3)
{
    const int i3 = get_global_id(0), i2 = get_global_id(1), z = get_global_id(2);
    const int i1 = z % n1, i0 = z / n1;
    dst[off + i0 * s0 + i1 * s1 + i2 * s2 + (long)i3 * s3] = src[(((long)i0 * n1 + i1) * n2 + i2) * n3 + i3];
}
