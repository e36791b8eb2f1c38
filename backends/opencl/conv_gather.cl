// The im2col gather of conv2d: element (q, pixel) of the lowered matrix of one image and group, read straight from x.
//
// q runs over (c, r, s) of the group's C/groups input channels and the R x S taps (the weight
// row order of w[k] in (K, C/g, R, S)), the pixel over the Ho x Wo outputs row by row. x is
// addressed through four element strides, so NCHW, NHWC and strided views are one code path;
// taps in the padding (and pixels past the end of a panel) read as zero. Used by the explicit
// im2col kernel, the implicit convGemm tile loads and the FPGA conv kernel alike.
#define CONV_GEOM_ARGS                                                                              \
    const int Cg, const int H, const int W, const int R, const int S, const int Wo, const int P,    \
    const int sh, const int sw, const int pt, const int pl, const int dh, const int dw,            \
    const long xn, const long xc, const long xh, const long xw
#define CONV_GEOM Cg, H, W, R, S, Wo, P, sh, sw, pt, pl, dh, dw, xn, xc, xh, xw

inline REAL conv_gather(__global const REAL* restrict x, const long xb, const int q, const int pix, CONV_GEOM_ARGS)
{
    const int rs = R * S;
    const int c = q / rs, t = q - c * rs;
    const int r = t / S, s = t - r * S;
    const int ho = pix / Wo, wo = pix - ho * Wo;
    const int h = ho * sh - pt + r * dh, w = wo * sw - pl + s * dw;
    return (pix < P && h >= 0 && h < H && w >= 0 && w < W) ? x[xb + c * xc + (long)h * xh + (long)w * xw] : ZERO;
}

// Per-channel epilogue: y = act(scale * (v + bias) + shift + residual), NaN kept by relu/relu6
// (as np.maximum). Runtime flags (bits of `epi`: 1 bias, 2 scale, 4 shift, 8 residual; act 0 none,
// 1 relu, 2 relu6), uniform across the launch: one program (and one FPGA bitstream) serves every
// epilogue. The residual element res[ri] (its own strides, computed by the caller) is read only
// with bit 8, before y is written: it may be y itself when the kernel writes y once.
#define EPI_BIAS 1
#define EPI_SCALE 2
#define EPI_SHIFT 4
#define EPI_RES 8
inline REAL conv_epilogue(REAL v, const int epi, const int act, __global const REAL* bias,
                          __global const REAL* scale, __global const REAL* shift, const int ch,
                          __global const REAL* res, const long ri)
{
    if (epi & EPI_BIAS) v += bias[ch];
    if (epi & EPI_SCALE) v *= scale[ch];
    if (epi & EPI_SHIFT) v += shift[ch];
    if (epi & EPI_RES) v += res[ri];
    if (act >= 1) v = v < ZERO ? ZERO : v;
    if (act == 2) v = v > (REAL)6 ? (REAL)6 : v;
    return v;
}
