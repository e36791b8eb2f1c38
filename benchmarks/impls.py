"""Implementations timed by the pytest-benchmark suites: one zero-argument callable per (suite, impl)
that runs one call to completion (device queues finished, CUDA streams synchronized), built on the
cases of kernels/bench/cases.py and the layer tables of kernels/bench/layers.py (the CLI's cases)."""
from __future__ import annotations

from typing import Callable, Dict, List, Tuple

import numpy as np
import pytest

import hpc_kernels
from hpc_kernels.bench import cases
from hpc_kernels.bench.layers import NETS, load

from .conftest import installed_backends

# Per suite: the backend's own implementations first, then the reference libraries it is measured against.
GEMM_IMPLS = {"cpu": ["cpu", "numpy", "torch"], "numba": ["numba", "numpy", "torch"], "opencl": ["opencl", "clblast"],
              "cuda": ["cuda", "cublas"]}
CONV_IMPLS = {"cpu": ["cpu auto", "cpu im2col", "cpu convgemm", "numpy im2col", "torch"],
              "numba": ["numba auto", "numpy im2col", "torch"], "opencl": ["opencl im2col", "opencl convgemm", "clblast"]}
SUITES = [s for s in ("cpu", "numba", "opencl", "cuda") if s in installed_backends()]


def gemm_params() -> List[Tuple[str, cases.GemmCase, str]]:
    out = []
    for suite in SUITES:
        todo = cases.square_cases(False, suite) + (cases.resnet50_cases(False) if suite == "cpu" else [])
        out += [(suite, case, impl) for case in todo for impl in GEMM_IMPLS[suite]]
    return out


def conv_params():
    out = []
    for suite in [s for s in SUITES if s in CONV_IMPLS]:
        nets = ["resnet50"] if suite == "opencl" else NETS  # as `bench conv2d --backend opencl`
        out += [(suite, layer, impl) for net in nets for layer in load(net) for impl in CONV_IMPLS[suite]]
    return out


def _torch():
    return pytest.importorskip("torch")


def _opencl_queue():
    from hpc_kernels.backends.opencl import runtime as rt

    return rt.default_device().queue


def _clblast(q):
    try:
        from hpc_kernels.bench.clblast import CLBlast

        return CLBlast(q)
    except ImportError as exc:
        pytest.skip(f"CLBlast: {exc}")


def _finish(q, fn: Callable[[], object]) -> Callable[[], None]:
    def call() -> None:
        fn()
        q.finish()

    return call


def gemm_fn(impl: str, a: np.ndarray, b: np.ndarray) -> Callable[[], object]:
    out = np.empty((a.shape[0], b.shape[1]), a.dtype)
    if impl == "numpy":
        return lambda: np.matmul(a, b, out=out)
    if impl == "torch":
        torch = _torch()
        ta, tb, tc = (torch.from_numpy(x) for x in (a, b, out))
        return lambda: torch.matmul(ta, tb, out=tc)
    if impl in ("opencl", "clblast"):
        import pyopencl.array as cla

        q = _opencl_queue()
        ad, bd, cd = cla.to_device(q, a), cla.to_device(q, b), cla.empty(q, out.shape, a.dtype)
        if impl == "clblast":
            cb = _clblast(q)
            return _finish(q, lambda: cb.gemm(ad, bd, cd))
        return _finish(q, lambda: hpc_kernels.gemm(ad, bd, out=cd))
    if impl in ("cuda", "cublas"):
        import cupy as cp

        ad, bd, cd = cp.asarray(a), cp.asarray(b), cp.empty(out.shape, a.dtype)
        call = (lambda: hpc_kernels.gemm(ad, bd, out=cd)) if impl == "cuda" else (lambda: cp.matmul(ad, bd, out=cd))
        return lambda: (call(), cp.cuda.get_current_stream().synchronize())
    return lambda: hpc_kernels.gemm(a, b, out=out, backend=impl)


def conv_fn(impl: str, layer, x: np.ndarray, w: np.ndarray, layout: str) -> Callable[[], object]:
    from hpc_kernels.bench.references import NumpyIm2col

    out = np.empty(layer.y_shape(x.shape[0], layout), x.dtype)
    kw: Dict = dict(layer.conv_kwargs)
    if impl == "numpy im2col":
        return NumpyIm2col(layer, x, w, layout, out)
    if impl == "torch":  # in the memory format of the layout (channels_last for NHWC)
        torch = _torch()
        fmt = torch.contiguous_format if layout == "NCHW" else torch.channels_last
        xt = torch.from_numpy(x if layout == "NCHW" else x.transpose(0, 3, 1, 2)).contiguous(memory_format=fmt)
        wt = torch.from_numpy(w).contiguous(memory_format=fmt)

        def fn():
            with torch.inference_mode():
                return torch.nn.functional.conv2d(xt, wt, None, **kw)

        return fn
    backend, alg = impl.split() if " " in impl else (impl, None)
    if backend in ("opencl", "clblast"):
        import pyopencl.array as cla

        q = _opencl_queue()
        xd, wd, yd = cla.to_device(q, x), cla.to_device(q, w), cla.empty(q, out.shape, x.dtype)
        if impl == "clblast":
            if layout != "NCHW" or layer.groups != 1:
                pytest.skip("CLBlast's convgemm: NCHW, groups = 1")
            cb = _clblast(q)
            return _finish(q, lambda: cb.convgemm(layer, xd, wd, yd, x.shape[0]))
        return _finish(q, lambda: hpc_kernels.conv2d(xd, wd, algorithm=alg, out=yd, layout=layout, **kw))
    try:  # an algorithm that does not take this layer is not a failure of the suite
        hpc_kernels.conv2d(x, w, **kw, layout=layout, algorithm=alg, out=out, backend=backend)
    except ValueError as exc:
        pytest.skip(f"{impl}: {exc}")
    return lambda: hpc_kernels.conv2d(x, w, **kw, layout=layout, algorithm=alg, out=out, backend=backend)
