"""Kernel launches of the opencl backend on device operands: packing, NDRange and FPGA-form GEMM and conv2d."""
from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

import numpy as np

from ..._api.conv_args import pixel_stride
from . import runtime as rt
from . import tiles

_i32, _i64 = np.int32, np.int64


class Operand(NamedTuple):
    """A device array as the kernels address it: base buffer, element offset, element strides."""

    buf: object
    off: int
    strides: Tuple[int, ...]

    @classmethod
    def of(cls, arr) -> "Operand":
        item = arr.dtype.itemsize
        # An axis of length <= 1 may carry any stride (NumPy allows it); one that is not whole
        # elements is never stepped along, so it becomes 0. Whole-element ones are kept: the conv
        # kernels step a Wo == 1 output's pixels along its W stride (== its H stride, checked).
        strides = tuple(s if n > 1 or s % item == 0 else 0 for s, n in zip(arr.strides, arr.shape))
        if arr.offset % item or any(s % item for s in strides):
            raise ValueError("opencl: array offsets and strides must be whole elements")  # callers check first
        return cls(arr.base_data, arr.offset // item, tuple(s // item for s in strides))


def _up(x: int, q: int) -> int:
    return -(-x // q) * q


def _real(dtype: np.dtype) -> dict:
    return {"REAL": "double" if dtype == np.float64 else "float", "REAL_IS_DOUBLE": int(dtype == np.float64)}


def _alloc(dev: rt.Device, elements: int, dtype: np.dtype):
    return dev.pool.allocate(max(1, elements) * dtype.itemsize)


def pack(dev, dtype, src: Operand, rows: int, depth: int, rs: int, cs: int, pw: int, blocks: int, batch: int = 1, zs: int = 0):
    """Blocks of pw rows of the rows x depth matrix src[off + r*rs + p*cs] (pack.cl), `batch`
    of them zs elements apart; returns the new buffer (blocks*depth*pw elements per batch)."""
    dst = _alloc(dev, batch * blocks * depth * pw, dtype)
    if depth:
        kern = rt.kernel(dev, "pack", {**_real(dtype), "VW": 1, "PW": pw}, "pack_panels")
        kern(dev.queue, (depth, blocks, batch), None, _i32(rows), _i32(depth), src.buf, _i64(src.off), _i64(rs), _i64(cs),
             _i64(zs), _i32(blocks), dst)
    return dst


def scatter(dev, dtype, src, dst: Operand, shape: Tuple[int, int, int, int]) -> None:
    """dst (a 4-D strided view, as an Operand) = src (the same shape, contiguous on the device),
    element by element (scatter.cl): no byte between dst's elements is written."""
    n0, n1, n2, n3 = shape
    if n0 * n1 * n2 * n3 == 0:
        return
    kern = rt.kernel(dev, "scatter", _real(dtype), "scatter4")
    kern(dev.queue, (n3, n2, n0 * n1), None, src.base_data, dst.buf, _i64(dst.off), *(_i64(s) for s in dst.strides),
         _i32(n1), _i32(n2), _i32(n3))


def _grid(t: dict, mblk: int, nblk: int, batch: int = 1):
    if t["M_FIRST"]:
        return (mblk, nblk, batch), (t["WGM"], t["WGN"], 1)
    return (nblk, mblk, batch), (t["WGN"], t["WGM"], 1)


class Gemm(NamedTuple):
    """One GEMM on device operands: C := alpha*A*B + beta*Cin, each matrix an Operand whose two
    strides are (row, column) of A (m x k), B (k x n), Cin and C (m x n). Cin is C for an in-place
    update; k = 0 (the caller passes it for alpha == 0) reads neither A nor B."""

    m: int
    n: int
    k: int
    alpha: float
    beta: float
    a: Operand
    b: Operand
    cin: Operand
    c: Operand

    def c_args(self) -> tuple:
        (ri, ci), (rc, cc) = self.cin.strides, self.c.strides
        return (self.cin.buf, _i64(self.cin.off), _i64(ri), _i64(ci), self.c.buf, _i64(self.c.off), _i64(rc), _i64(cc))


def gemm_ndrange(dev, dtype, g: Gemm, t: Optional[dict] = None) -> None:
    t = t or tiles.ndrange(dev, dtype.name)
    nwi = t["VW"] * t["NVEC"]
    mblk, nblk = _up(-(-g.m // t["MWI"]), t["WGM"]), _up(-(-g.n // nwi), t["WGN"])
    ap = pack(dev, dtype, g.a, g.m, g.k, *g.a.strides, t["MWI"], mblk)
    bp = pack(dev, dtype, g.b, g.n, g.k, g.b.strides[1], g.b.strides[0], nwi, nblk)  # op(B)^T: rows j, depth p
    kern = rt.kernel(dev, "gemm", {**_real(dtype), **t}, "gemm_nd")
    gs, ls = _grid(t, mblk, nblk)
    kern(dev.queue, gs[:2], ls[:2], _i32(g.m), _i32(g.n), _i32(g.k), dtype.type(g.alpha), dtype.type(g.beta), ap, bp, *g.c_args())


def _bands(dev, units: int) -> int:
    """Copies of a single work-item kernel: 1 on an FPGA (one pipeline), the compute units elsewhere."""
    if dev.device.type & rt.cl.device_type.ACCELERATOR:
        return 1
    return max(1, min(units, dev.device.max_compute_units))


def gemm_fpga(dev, dtype, g: Gemm) -> None:
    t = tiles.FPGA[dtype.name]
    kern = rt.kernel(dev, "fpga", {**_real(dtype), **t}, "gemm_fpga")
    (rsa, csa), (rsb, csb) = g.a.strides, g.b.strides
    kern(dev.queue, (_bands(dev, -(-g.m // t["TM"])),), (1,), _i32(g.m), _i32(g.n), _i32(g.k), dtype.type(g.alpha),
         dtype.type(g.beta), g.a.buf, _i64(g.a.off), _i64(rsa), _i64(csa), g.b.buf, _i64(g.b.off), _i64(rsb), _i64(csb), *g.c_args())


class ConvGeometry(NamedTuple):
    """What the conv kernels need of one layer (CONV_GEOM_ARGS of conv_gather.cl)."""

    n: int
    groups: int
    kg: int  # output channels per group: the GEMM's M
    kd: int  # (C/g)*R*S: its K
    p: int  # Ho*Wo: its N
    args: tuple  # CONV_GEOM values, x strides last
    y_strides: Tuple[int, int, int]  # image, channel, pixel

    @classmethod
    def of(cls, shape, spec, x: Operand, y: Operand) -> "ConvGeometry":
        g = spec.groups
        cg = shape.c // g
        if spec.layout == "NCHW":
            xn, xc, xh, xw = x.strides
            yn, yk, yh, yw = y.strides
        else:
            xn, xh, xw, xc = x.strides
            yn, yh, yw, yk = y.strides
        yp = pixel_stride(yh, yw, shape.wo)
        (sh, sw), (dh, dw) = spec.stride, spec.dilation
        pt, _, pl, _ = shape.padding
        p = shape.ho * shape.wo
        geo = tuple(_i32(v) for v in (cg, shape.h, shape.w, shape.r, shape.s, shape.wo, p, sh, sw, pt, pl, dh, dw))
        geo += tuple(_i64(v) for v in (xn, xc, xh, xw))
        return cls(shape.n, g, shape.k // g, cg * shape.r * shape.s, p, geo, (yn, yk, yp))


def residual_strides(r: Operand, layout: str, wo: int) -> Tuple[int, int, int]:
    """(image, channel, pixel) element strides of a residual in the output's layout (its H and W
    form one stride: the caller copies one that does not; wo output columns: pixel_stride)."""
    if layout == "NCHW":
        rn, rk, rh, rw = r.strides
    else:
        rn, rh, rw, rk = r.strides
    return rn, rk, pixel_stride(rh, rw, wo)


def _residual_args(res, dtype, dev) -> tuple:
    """The kernels' trailing residual arguments (buffer, offset, image/channel/pixel strides); res:
    None or (Operand, (rn, rk, rp)). Absent: a 1-element dummy, never read (flag 8 is off)."""
    if res is None:
        return (_alloc(dev, 1, dtype), _i64(0), _i64(0), _i64(0), _i64(0))
    op, st = res
    return (op.buf, _i64(op.off), *(_i64(v) for v in st))


def _epilogue_args(bias, scale, shift, act: str, dtype, dev, res=None) -> tuple:
    """(epi flags, act, bias, scale, shift): absent vectors pass a 1-element dummy (never read)."""
    flags = (1 if bias is not None else 0) | (2 if scale is not None else 0) | (4 if shift is not None else 0)
    flags |= 8 if res is not None else 0
    dummy = None
    vecs = []
    for v in (bias, scale, shift):
        if v is None:
            dummy = dummy or _alloc(dev, 1, dtype)
            vecs.append(dummy)
        else:
            vecs.append(v)
    return (_i32(flags), _i32({"": 0, "relu": 1, "relu6": 2}[act]), *vecs)


def conv_ndrange(dev, dtype, geo: ConvGeometry, w: Operand, x: Operand, y: Operand, bias, scale, shift, act: str, implicit: bool,
                 t: Optional[dict] = None, res=None) -> None:
    """y = epilogue(W_g X_g) per image and group: implicit convGemm, or im2col panels then the GEMM loop.
    res: None or (residual Operand, its (image, channel, pixel) strides); never y itself here
    (convgemm_panel stores partial sums in y before its last chunk reads the residual)."""
    t = t or tiles.ndrange(dev, dtype.name)
    nwi = t["VW"] * t["NVEC"]
    mblk, npan = _up(-(-geo.kg // t["MWI"]), t["WGM"]), _up(-(-geo.p // nwi), t["WGN"])
    nz = geo.n * geo.groups
    ap = pack(dev, dtype, w, geo.kg, geo.kd, geo.kd, 1, t["MWI"], mblk, batch=geo.groups, zs=geo.kg * geo.kd)
    defs = {**_real(dtype), **t, "IMPLICIT": int(implicit), "KC": t.get("KC", 256)}
    epilogue = _epilogue_args(bias, scale, shift, act, dtype, dev, res)
    rargs = _residual_args(res, dtype, dev)
    if implicit and not t["SB"]:  # CPUs: per-item panels (convgemm_panel)
        units = dev.device.max_compute_units
        mb = -(-geo.kg // t["MWI"])
        npan = -(-geo.p // nwi)
        parts = max(1, min(mb, -(-2 * units // (npan * nz))))  # channel ranges when pixel panels are few
        mchunk = -(-mb // parts)
        kern = rt.kernel(dev, "conv", defs, "convgemm_panel")
        kern(dev.queue, (npan, -(-mb // mchunk), nz), (1, 1, 1), _i32(geo.kg), _i32(geo.kd), _i32(geo.groups), _i32(mblk),
             _i32(mchunk), ap, x.buf, _i64(x.off), *geo.args, *epilogue, y.buf, _i64(y.off), *(_i64(s) for s in geo.y_strides),
             *rargs)
        return
    if implicit:
        src = x
    else:
        buf = _alloc(dev, nz * npan * geo.kd * nwi, dtype)
        rt.kernel(dev, "conv", defs, "im2col_panels")(dev.queue, (geo.kd, npan, nz), None, _i32(geo.kd), x.buf, _i64(x.off), *geo.args, _i32(geo.groups),
                          _i32(npan), buf)
        src = Operand(buf, 0, ())
    gs, ls = _grid(t, mblk, npan, nz)
    rt.kernel(dev, "conv", defs, "conv_nd")(dev.queue, gs, ls, _i32(geo.kg), _i32(geo.kd), _i32(geo.groups), _i32(mblk), _i32(npan), ap, src.buf,
                _i64(src.off), *geo.args, *epilogue, y.buf, _i64(y.off),
                *(_i64(s) for s in geo.y_strides), *rargs)


def conv_fpga(dev, dtype, geo: ConvGeometry, w: Operand, x: Operand, y: Operand, bias, scale, shift, act: str,
              res=None) -> None:
    t = tiles.FPGA[dtype.name]
    kern = rt.kernel(dev, "fpga", {**_real(dtype), **t}, "conv_fpga")
    nz = geo.n * geo.groups
    units = nz * -(-geo.kg // t["TM"])
    kern(dev.queue, (_bands(dev, units),), (1,), _i32(geo.kg), _i32(geo.kd), _i32(geo.groups), _i32(nz), w.buf, _i64(w.off), x.buf,
         _i64(x.off), *geo.args, *_epilogue_args(bias, scale, shift, act, dtype, dev, res), y.buf, _i64(y.off),
         *(_i64(s) for s in geo.y_strides), *_residual_args(res, dtype, dev))
