"""CLBlast baselines on a pyopencl queue: sgemm/dgemm through pyclblast, convgemm and im2col (which pyclblast lacks) through libclblast's C API."""
from __future__ import annotations

import ctypes
import ctypes.util
from typing import Optional

import numpy as np

_CROSS_CORRELATION = 151  # CLBlastKernelModeCrossCorrelation (clblast_c.h): PyTorch's convolution
_size = ctypes.c_size_t


def _lib():
    name = ctypes.util.find_library("clblast") or "libclblast.so.1"
    lib = ctypes.CDLL(name)
    geo = [ctypes.c_int] + [_size] * 11  # kernel mode, channels, h, w, kh, kw, pad h/w, stride h/w, dilation h/w
    for p in ("S", "D"):
        f = getattr(lib, f"CLBlast{p}convgemm")
        f.argtypes = geo + [_size, _size] + [ctypes.c_void_p, _size] * 3 + [ctypes.c_void_p, ctypes.c_void_p]
        f.restype = ctypes.c_int
        f = getattr(lib, f"CLBlast{p}im2col")
        f.argtypes = geo + [ctypes.c_void_p, _size] * 2 + [ctypes.c_void_p, ctypes.c_void_p]
        f.restype = ctypes.c_int
    return lib


class CLBlast:
    """The CLBlast routines of the benchmarks, on the given pyopencl queue (same context and
    device as the kernels they are compared with). Raises ImportError when pyclblast or
    libclblast is missing."""

    def __init__(self, queue) -> None:
        import pyclblast

        self.pyclblast = pyclblast
        try:
            self.lib = _lib()
        except OSError as exc:
            raise ImportError(f"libclblast not found ({exc}); apt-get install libclblast-dev") from None
        self.queue = queue
        self._q = ctypes.c_void_p(queue.int_ptr)

    def gemm(self, a, b, c) -> None:
        """c = a @ b, row-major device arrays."""
        m, k = a.shape
        n = b.shape[1]
        self.pyclblast.gemm(self.queue, m, n, k, a, b, c, a_ld=k, b_ld=n, c_ld=n)

    def _check(self, status: int, what: str) -> None:
        if status != 0:
            raise RuntimeError(f"CLBlast {what} failed with status {status}")

    def _geo(self, layer, c: Optional[int] = None):
        return (_CROSS_CORRELATION, c or layer.c, layer.h, layer.w, layer.r, layer.s, layer.padding, layer.padding,
                layer.stride, layer.stride, layer.dilation, layer.dilation)

    def convgemm(self, layer, x, w, y, batch: int) -> None:
        """y (N, K, Ho, Wo) = x (N, C, H, W) conv w (K, C, R, S): CLBlast's batched convgemm (groups = 1)."""
        f = self.lib.CLBlastSconvgemm if x.dtype == np.float32 else self.lib.CLBlastDconvgemm
        st = f(*self._geo(layer), layer.k, batch, x.base_data.int_ptr, x.offset // x.dtype.itemsize, w.base_data.int_ptr, 0,
               y.base_data.int_ptr, 0, ctypes.byref(self._q), None)
        self._check(st, "convgemm")

    def im2col_gemm(self, layer, x, w, y, cols, batch: int) -> None:
        """The same through im2col into `cols` ((C/g)*R*S, Ho*Wo) and one GEMM per image and group."""
        f = self.lib.CLBlastSim2col if x.dtype == np.float32 else self.lib.CLBlastDim2col
        g, cg, kg = layer.groups, layer.c // layer.groups, layer.k // layer.groups
        p, kd = layer.out_h * layer.out_w, cg * layer.r * layer.s
        w2, cols2, y2 = w.reshape(layer.k, kd), cols.reshape(-1)[: kd * p].reshape(kd, p), y.reshape(batch * layer.k, p)
        for n in range(batch):
            for gi in range(g):
                xoff = (n * layer.c + gi * cg) * layer.h * layer.w
                st = f(*self._geo(layer, cg), x.base_data.int_ptr, xoff, cols.base_data.int_ptr, 0, ctypes.byref(self._q), None)
                self._check(st, "im2col")
                self.pyclblast.gemm(self.queue, kg, p, kd, w2, cols2, y2, a_ld=kd, b_ld=p, c_ld=p,
                                    a_offset=gi * kg * kd, c_offset=(n * layer.k + gi * kg) * p)
