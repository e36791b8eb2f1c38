"""The reference libraries every suite is timed against, and the float64 checks of every result:
NumPy's BLAS with its threads limited, an im2col + NumPy convolution, PyTorch's conv2d in both
memory formats (shared by the cpu, numba, opencl and cuda suites in kernels/bench/suites/)."""
from __future__ import annotations

import contextlib
from typing import Callable, Dict, Iterator, Optional

import numpy as np

from .layers import ConvLayer

TORCH = ("torch", "torch_cl")  # NCHW-contiguous and channels_last memory format


@contextlib.contextmanager
def numpy_threads(n: int) -> Iterator[Optional[str]]:
    """Limit NumPy's BLAS to n threads; yields the BLAS name (None when threadpoolctl is missing)."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        yield None
        return
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    name = f"{blas[0]['internal_api']} {blas[0]['version']}" if blas else "numpy"
    with threadpool_limits(limits=n, user_api="blas"):
        yield name


def check(result: np.ndarray, a: np.ndarray, b: np.ndarray) -> bool:
    """Netlib-style bound against a float64 product: |C - Cref| <= 4 k eps |A||B|."""
    ref = a.astype(np.float64) @ b.astype(np.float64)
    bound = 4 * a.shape[1] * np.finfo(a.dtype).eps * (np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64))
    return bool(np.all(np.abs(result - ref) <= bound + np.finfo(a.dtype).tiny))




class NumpyIm2col:
    """The textbook baseline: per image, copy the zero-padded input into a buffer, lower it with
    sliding_window_view into the column matrix of each group ((C/g)*R*S, Ho*Wo) for NCHW, its
    transpose for NHWC, then one np.matmul with the (K/g, (C/g)*R*S) weights per group into `out`.
    The padded input and the columns are allocated once and reused, as a framework keeps its
    workspace: the timed call is the lowering copies plus the GEMM."""

    def __init__(self, layer: ConvLayer, x: np.ndarray, w: np.ndarray, layout: str, out: np.ndarray):
        g, p, d, st = layer.groups, layer.padding, layer.dilation, layer.stride
        cg, kg, ho, wo = layer.c // g, layer.k // g, layer.out_h, layer.out_w
        span = (d * (layer.r - 1) + 1, d * (layer.s - 1) + 1)  # dilated window
        self.x, self.p, self.layout = x, p, layout
        win = np.lib.stride_tricks.sliding_window_view
        if layout == "NCHW":
            self.xp = np.zeros((layer.c, layer.h + 2 * p, layer.w + 2 * p), x.dtype)
            v = win(self.xp, span, axis=(1, 2))[:, ::st, ::st, ::d, ::d][:, :ho, :wo]  # (C, Ho, Wo, R, S)
            self.src = v.reshape(g, cg, ho, wo, layer.r, layer.s).transpose(0, 1, 4, 5, 2, 3)
            self.cols = np.empty((g, cg * layer.r * layer.s, ho * wo), x.dtype)
            self.a, self.b = w.reshape(g, kg, cg * layer.r * layer.s), self.cols  # W @ cols
            self.y = [out[n].reshape(g, kg, ho * wo) for n in range(out.shape[0])]
        else:
            self.xp = np.zeros((layer.h + 2 * p, layer.w + 2 * p, layer.c), x.dtype)
            v = win(self.xp, span, axis=(0, 1))[::st, ::st, :, ::d, ::d][:ho, :wo]  # (Ho, Wo, C, R, S)
            self.src = v.reshape(ho, wo, g, cg, layer.r, layer.s).transpose(2, 0, 1, 4, 5, 3)
            self.cols = np.empty((g, ho * wo, layer.r * layer.s * cg), x.dtype)
            # Weights reordered to (R, S, C/g) rows once, outside the timed call.
            wt = w.reshape(g, kg, cg, layer.r, layer.s).transpose(0, 3, 4, 2, 1).reshape(g, -1, kg)
            self.a, self.b = self.cols, np.ascontiguousarray(wt)  # cols @ W^T
            self.y = [out[n].reshape(ho * wo, g, kg).transpose(1, 0, 2) for n in range(out.shape[0])]
        self.src_shape = self.cols.shape[:1] + self.src.shape[1:]
        # Splitting C into (g, C/g) keeps a view; a silent copy would freeze the lowering source.
        assert np.shares_memory(self.src, self.xp) and all(np.shares_memory(y, out) for y in self.y)

    def __call__(self) -> None:
        p, cols = self.p, self.cols.reshape(self.src_shape)
        for n, y in enumerate(self.y):
            if self.layout == "NCHW":
                self.xp[:, p : self.xp.shape[1] - p, p : self.xp.shape[2] - p] = self.x[n]
            else:
                self.xp[p : self.xp.shape[0] - p, p : self.xp.shape[1] - p] = self.x[n]
            np.copyto(cols, self.src)
            np.matmul(self.a, self.b, out=y)


def numpy_conv(layer: ConvLayer, x: np.ndarray, w: np.ndarray, layout: str) -> np.ndarray:
    """One convolution by the NumPy baseline (in the dtype of x: the float64 reference)."""
    out = np.empty(layer.y_shape(x.shape[0], layout), x.dtype)
    NumpyIm2col(layer, x, w, layout, out)()
    return out


def reference(layer: ConvLayer, x: np.ndarray, w: np.ndarray, layout: str):
    """(float64 result, elementwise error bound). The bound is the GEMM one, 4 * k * eps * (|x| conv
    |w|) with k = C/g*R*S, since every output element is one dot product of length k."""
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    ref = numpy_conv(layer, x64, w64, layout)
    np.abs(x64, out=x64)
    np.abs(w64, out=w64)
    bound = numpy_conv(layer, x64, w64, layout)
    bound *= 4 * layer.reduction * np.finfo(x.dtype).eps
    bound += np.finfo(x.dtype).tiny
    return ref, bound


def within(y: np.ndarray, ref: np.ndarray, bound: np.ndarray) -> bool:
    return bool(np.all(np.abs(y - ref) <= bound))  # NaN compares False: fails


NAMES = {"numpy": "numpy im2col", "torch": "torch", "torch_cl": "torch channels_last"}  # row key -> record impl


def add_references(fns: Dict[str, Callable[[], object]], outs: Dict[str, np.ndarray], layer: ConvLayer, x: np.ndarray,
                   w: np.ndarray, layout: str, torch, F) -> Callable[[], None]:
    """Add the reference libraries of a conv layer to `fns` (NumPy im2col into outs["numpy"]; torch in
    NCHW and channels_last when given). Returns what to call after the timing, under the same
    thread settings, to put torch's results into `outs` (torch has no out=, it allocates its result)."""
    outs["numpy"] = np.empty(layer.y_shape(x.shape[0], layout), x.dtype)
    fns["numpy"] = NumpyIm2col(layer, x, w, layout, outs["numpy"])
    if torch is None:
        return lambda: None
    kw = layer.conv_kwargs
    # Converted once, outside the timed region.
    xt = torch.from_numpy(x if layout == "NCHW" else x.transpose(0, 3, 1, 2))
    wt = torch.from_numpy(w)
    xs = {"torch": xt.contiguous(), "torch_cl": xt.contiguous(memory_format=torch.channels_last)}
    ws = {"torch": wt.contiguous(), "torch_cl": wt.contiguous(memory_format=torch.channels_last)}
    for name in TORCH:
        fns[name] = lambda xi=xs[name], wi=ws[name]: F.conv2d(xi, wi, None, **kw)

    def fetch() -> None:
        for name in TORCH:
            y = fns[name]().numpy()  # logical NCHW whatever the memory format
            outs[name] = y if layout == "NCHW" else y.transpose(0, 2, 3, 1)

    return fetch
