"""A NumPy stand-in for CuPy and for the cuda backend's kernel launches: the backend's host side (operand layouts, strides, pointers, batch offsets, grids, shared memory, tap tables, packed weights, epilogue arguments) runs end to end without a GPU, each launch executed by a NumPy model of the kernel's contract (what gemm.cu / conv.cu compute from their arguments)."""
from __future__ import annotations

import contextlib
import ctypes
import types

import numpy as np

from hpc_kernels.backends.cuda import plan
from hpc_kernels.backends.cuda import sources as S


class _Mem:
    """cupy.cuda.MemoryPointer: an address, offsettable."""

    def __init__(self, ptr: int):
        self.ptr = ptr

    def __add__(self, off: int) -> "_Mem":
        return _Mem(self.ptr + int(off))


class _Device:
    def __init__(self, i: int = 0):
        self.id = i

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def _view(ptr: int, dtype, shape, strides_bytes):
    """The array at address ptr with these byte strides (how the models read kernel arguments)."""
    dtype = np.dtype(dtype)
    lo = sum((n - 1) * s for n, s in zip(shape, strides_bytes) if s < 0 and n > 0)
    hi = sum((n - 1) * s for n, s in zip(shape, strides_bytes) if s > 0 and n > 0)
    buf = np.frombuffer((ctypes.c_char * (hi - lo + dtype.itemsize)).from_address(int(ptr) + lo), np.uint8)
    first = buf[-lo:-lo + dtype.itemsize].view(dtype)  # the element at ptr
    return np.lib.stride_tricks.as_strided(first, tuple(shape), tuple(strides_bytes))


class ndarray(np.ndarray):
    """cupy.ndarray: a NumPy array with .data.ptr and .device."""

    def __new__(cls, shape, dtype=float, memptr=None, strides=None):
        if memptr is None:
            return np.empty(shape, dtype).view(cls)
        return _view(memptr.ptr, dtype, shape, strides).view(cls)

    @property
    def data(self):  # type: ignore[override]
        return _Mem(self.__array_interface__["data"][0])

    @property
    def device(self):
        return _Device(0)


def _wrap(a):
    return np.asarray(a).view(ndarray) if not isinstance(a, ndarray) else a


def make_module():
    """The fake `cupy` module: the functions cuda.py calls."""
    cp = types.SimpleNamespace()
    cp.ndarray = ndarray
    cp.empty = lambda shape, dtype=float: np.empty(shape, dtype).view(ndarray)
    cp.zeros = lambda shape, dtype=float: np.zeros(shape, dtype).view(ndarray)
    cp.full = lambda shape, v, dtype=float: np.full(shape, v, dtype).view(ndarray)
    cp.asarray = lambda a: np.array(a, copy=True).view(ndarray) if not isinstance(a, ndarray) else a
    cp.asnumpy = lambda a: np.array(a, copy=True)
    cp.may_share_memory = np.may_share_memory
    cp.matmul = lambda a, b: np.matmul(a, b).view(ndarray)
    cp.float32, cp.float64, cp.float16 = np.float32, np.float64, np.float16
    cp.__version__ = "fake"
    cuda = types.SimpleNamespace(Device=_Device)
    cuda.runtime = types.SimpleNamespace(getDeviceCount=lambda: 1)
    cp.cuda = cuda
    return cp


# ---------------------------------------------------------------------------------------------
# Models of the kernels, reading their arguments as the CUDA code does
# ---------------------------------------------------------------------------------------------

_T = {"float": np.float32, "double": np.float64, "half_t": np.float16}


def _targs(name: str):
    kern, rest = name.split("<", 1)
    parts = [p.strip() for p in rest.rstrip(">").split(",")]
    return kern, np.dtype(_T[parts[0]]), parts[1:]


def _cfg(kern: str, vals):
    nums = [int(v) for v in vals[:6]]
    return S.Simt(*nums) if kern.endswith("simt") else S.Tc(*nums)


def _b(s: str) -> bool:
    return s == "true"


def _mat(ptr, dt, rows, k, ld, kc):
    it = dt.itemsize
    return _view(int(ptr), dt, (rows, k), (ld * it, it) if kc else (it, ld * it))


def _act(y, act):
    if act >= 1:
        y = np.where(y < 0, 0.0, y)
    if act == 2:
        y = np.where(y > 6, 6.0, y)
    return y


class Launches:
    """rt.launch replacement: checks grid, block and shared memory against the configuration
    in the kernel's name, then runs the model. Records every launch."""

    def __init__(self):
        self.calls = []

    def __call__(self, dev_id, file, name, grid, block, smem, args):
        kern, dt, vals = _targs(name)
        self.calls.append((file, name, tuple(grid), block, smem))
        assert (file, name) in set(S.catalogue()), f"{name} is not in the compiled catalogue"
        getattr(self, kern.replace("_simt", "").replace("_tc", ""))(kern, dt, vals, grid, block, smem, [a.item() if hasattr(a, "item") else a for a in args])

    @staticmethod
    def _check_cfg(kern, vals, m, n, grid, block, smem, dt, a_kc, b_kc):
        cfg = _cfg(kern, vals)
        assert grid[0] == plan.tiles(m, n, cfg) and block == cfg.threads
        assert smem == S.smem_bytes(cfg, dt.name, a_kc, b_kc)

    def gemm(self, kern, dt, vals, grid, block, smem, a):
        M, N, K, b2, A, lda, as1, as2, B, ldb, bs1, bs2, C, crs, ccs, cs1, cs2, Ci, irs, ics, is1, is2, alpha, beta = a
        a_kc, b_kc = _b(vals[6]), _b(vals[7])
        self._check_cfg(kern, vals, M, N, grid, block, smem, dt, a_kc, b_kc)
        it = dt.itemsize
        for z in range(grid[1]):
            z1, z2 = divmod(z, b2)
            c = _view(C + (z1 * cs1 + z2 * cs2) * it, dt, (M, N), (crs * it, ccs * it))
            acc = np.zeros((M, N))
            if K:
                am = _mat(A + (z1 * as1 + z2 * as2) * it, dt, M, K, lda, a_kc).astype(np.float64)
                bm = _mat(B + (z1 * bs1 + z2 * bs2) * it, dt, N, K, ldb, b_kc).astype(np.float64)
                acc = am @ bm.T
            y = alpha * acc
            if beta != 0:
                y = y + beta * _view(Ci + (z1 * is1 + z2 * is2) * it, dt, (M, N), (irs * it, ics * it)).astype(np.float64)
            c[...] = y

    def _conv_store(self, dt, pix_rows, acc, m0_is_pix, P, g, Kg, y, yn, yk, yp, vecs, act, res=0):
        """acc (pixels x channels of group g) through ConvOut; res: the residual's pointer (0:
        none), read with y's strides (the kernels' contract)."""
        npix, kg = acc.shape
        K = Kg * (g + 1)
        bias, scale, shift = (None if p == 0 else _view(p, dt, (K,), (dt.itemsize,)).astype(np.float64)[g * Kg:(g + 1) * Kg] for p in vecs)
        mul = scale if scale is not None else np.ones(kg)
        add = (mul * bias if bias is not None else 0.0) + (shift if shift is not None else 0.0)
        pre = acc * mul + add
        j = np.arange(npix)
        ch = g * Kg + np.arange(kg)
        it = dt.itemsize
        rptr, rn, rk, rp = res, yn, yk, yp
        if rptr:
            for jj in range(npix):
                img, p = divmod(int(j[jj]), P)
                pre[jj] += _view(rptr + (img * rn + p * rp + int(ch[0]) * rk) * it, dt, (kg,), (rk * it,)).astype(np.float64)
        out = _act(pre, act)
        for jj in range(npix):
            img, p = divmod(int(j[jj]), P)
            row = _view(y + (img * yn + p * yp + int(ch[0]) * yk) * it, dt, (kg,), (yk * it,))
            row[...] = out[jj]

    def conv_implicit(self, kern, dt, vals, grid, block, smem, a):
        (Kg, kd, ldw, npix, H, W, Wo, sh, sw, ph, pw, x, xn, xh, xw, xg, taps, w, y, yn, yk, yp, P, bias, scale, shift, act,
         res) = a
        pix = _b(vals[6])
        gasync = _b(vals[7]) if kern.endswith("tc") else False
        m, n = (npix, Kg) if pix else (Kg, npix)
        a_kc, b_kc = S.implicit_smem_layout(None, pix, gasync) if kern.endswith("tc") else (False, False)
        self._check_cfg(kern, vals, m, n, grid, block, smem, dt, a_kc, b_kc)
        t = _view(taps, np.int64, (kd, 2), (16, 8))
        off, rh, sw_ = t[:, 0], t[:, 1] & 0xFFFFFFFF, t[:, 1] >> 32
        j = np.arange(npix)
        img, p = j // P, j % P
        ih0, iw0 = (p // Wo) * sh - ph, (p % Wo) * sw - pw
        base = img * xn + ih0 * xh + iw0 * xw
        it = dt.itemsize
        for g in range(grid[1]):
            ih, iw = ih0[:, None] + rh[None, :], iw0[:, None] + sw_[None, :]
            ok = (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
            idx = g * xg + base[:, None] + off[None, :]
            vals_ = np.zeros(idx.shape)
            for (r, c) in zip(*np.nonzero(ok)):
                vals_[r, c] = _view(x + int(idx[r, c]) * it, dt, (1,), (it,))[0]
            wg = _view(w + g * Kg * ldw * it, dt, (Kg, kd), (ldw * it, it)).astype(np.float64)
            self._conv_store(dt, pix, vals_ @ wg.T, pix, P, g, Kg, y, yn, yk, yp, (bias, scale, shift), act, res)

    def conv_gemm(self, kern, dt, vals, grid, block, smem, a):
        M, N, K, Kg, A, lda, ag, B, ldb, bg, y, yn, yk, yp, P, bias, scale, shift, act, res = a
        a_kc, b_kc, pix = _b(vals[6]), _b(vals[7]), _b(vals[8])
        self._check_cfg(kern, vals, M, N, grid, block, smem, dt, a_kc, b_kc)
        it = dt.itemsize
        for g in range(grid[1]):
            am = _mat(A + g * ag * it, dt, M, K, lda, a_kc).astype(np.float64)
            bm = _mat(B + g * bg * it, dt, N, K, ldb, b_kc).astype(np.float64)
            acc = am @ bm.T
            self._conv_store(dt, pix, acc if pix else acc.T, pix, P, g, Kg, y, yn, yk, yp, (bias, scale, shift), act, res)

    def im2col(self, kern, dt, vals, grid, block, smem, a):
        kd, ldc, npix, H, W, P, Wo, sh, sw, ph, pw, x, xn, xh, xw, xg, taps, cols, cols_g = a
        nhwc = _b(vals[0])
        t = _view(taps, np.int64, (kd, 2), (16, 8))
        it = dt.itemsize
        for g in range(grid[1]):
            out = _view(cols + g * cols_g * it, dt, ((npix, ldc) if nhwc else (kd, ldc)), ((ldc * it, it)))
            out[...] = 0
            for j in range(npix):
                img, p = divmod(j, P)
                ih0, iw0 = (p // Wo) * sh - ph, (p % Wo) * sw - pw
                for kk in range(kd):
                    o, packed = int(t[kk, 0]), int(t[kk, 1])
                    ih, iw = ih0 + (packed & 0xFFFFFFFF), iw0 + (packed >> 32)
                    if 0 <= ih < H and 0 <= iw < W:
                        v = _view(x + (g * xg + img * xn + ih0 * xh + iw0 * xw + o) * it, dt, (1,), (it,))[0]
                        if nhwc:
                            out[j, kk] = v
                        else:
                            out[kk, j] = v


@contextlib.contextmanager
def installed(monkeypatch):
    """The cuda backend with the fake CuPy and the kernel models; yields the launch recorder."""
    from hpc_kernels import _dispatch
    from hpc_kernels.backends.cuda import runtime as rt
    from hpc_kernels.backends import cuda

    fake = make_module()
    rec = Launches()
    monkeypatch.setattr(cuda, "cp", fake)
    monkeypatch.setattr(rt, "cp", fake)
    monkeypatch.setattr(rt, "launch", rec)
    monkeypatch.setattr(rt, "props", lambda i: {"name": "Emulated sm_90", "arch": 90, "smem_optin": 232448, "sms": 132})
    be = cuda.backend
    monkeypatch.setattr(be, "available", True)
    monkeypatch.setattr(be, "reason", "emulated")
    monkeypatch.setattr(type(be), "array_types", (ndarray,))
    monkeypatch.setattr(be, "_taps", {})
    _dispatch._fast.clear()
    _dispatch._fast_names.clear()
    try:
        yield rec
    finally:
        _dispatch._fast.clear()
        _dispatch._fast_names.clear()


def device(a):
    return _wrap(np.array(a, copy=True))

