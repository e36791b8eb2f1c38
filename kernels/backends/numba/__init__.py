"""numba backend: the packed GEMM and the convolutions as numba-compiled kernels (no compiler
at install time; a second CPU implementation independent of the C++ engine).

Kernels live in this package (gemm.py, direct.py, conv.py, ...) and are compiled on first use, then cached on disk.
Arguments are checked as for the other Python backends (kernels/_validation.py); outputs are
written in place or rejected, never copied. Threads follow hpc_kernels.set_num_threads.
"""
from __future__ import annotations

import time

import numpy as np

from ... import _validation as v
from ..._api.conv_args import make_spec, shape_of
from ..base import Backend, promote_matmul
from . import algorithms as _algorithms

try:
    import numba as _numba_module

    from . import cache as _cache
    from . import conv as _conv
    from . import depthwise as _depthwise_kernels
    from . import direct as _direct_kernels
    from . import gemm as _gemm_kernels
    from . import linalg as _linalg
    from . import pack as _pack_kernels
    from .runtime import CACHE_DIR, ISA
except ImportError as exc:  # numba missing, or built against another NumPy
    _numba_module = None
    _reason = f"numba could not be imported ({exc})"
else:
    _reason = f"numba {_numba_module.__version__}, {ISA} tiles, kernel cache {CACHE_DIR}"
    from ..._threads import get_num_threads as _get, set_num_threads as _set

    # Start numba's pool now: its OpenMP layer sets the process's OpenMP thread count when it
    # starts, which the cpu backend shares (same libgomp); kernels' count is put back after.
    _threads_before = _get()
    _numba_module.get_num_threads()
    _set(_threads_before)


def _sync_threads() -> None:
    """numba's pool follows kernels' count (hpc_kernels.set_num_threads / num_threads), up to the
    threads numba started (NUMBA_NUM_THREADS)."""
    from ..._threads import get_num_threads

    want = min(get_num_threads(), _numba_module.config.NUMBA_NUM_THREADS)
    if _numba_module.get_num_threads() != want:
        _numba_module.set_num_threads(want)


# Seconds the first calls take to compile every kernel (gemm, im2col, direct and depthwise conv2d,
# both dtypes) on a cold cache: first_call_seconds() in a process with an empty NUMBA_CACHE_DIR took
# 79 s (float32) + 69 s (float64) on the development machine (AMD Zen 4, 2 cores shared with other
# jobs; issue 22 saw ~100 s). info() quotes this figure; measuring it would compile everything.
COLD_COMPILE_S = 150


class NumbaBackend(Backend):
    name = "numba"
    extra = "numba"
    ops = frozenset({"gemm", "matmul", "conv2d", "im2col", "pack_conv2d", "conv2d_packed"})
    available = _numba_module is not None
    reason = _reason
    algorithms = _algorithms.IMPLEMENTED
    auto = _algorithms.AUTO

    def auto_algorithm(self, shape, spec, dtype) -> str:
        return _algorithms.auto(shape, spec, dtype)

    def run_algorithm(self, shape, spec, requested) -> str:
        return _algorithms.runs(requested)

    def gemm(self, a, b, c, alpha, beta, trans_a, trans_b, out):
        g = v.gemm_arguments(a, b, c, out, alpha, beta, trans_a, trans_b)
        target = np.empty((g.m, g.n), g.dtype) if g.target is None else g.target
        if g.source is not None and g.source is not target:  # out distinct from c: C is read from c
            np.copyto(target, g.source, casting="no")
        a, b = _linalg.input_array(g.a), _linalg.input_array(g.b)
        _sync_threads()
        _linalg.gemm_into(a.T if trans_a else a, b.T if trans_b else b, target, g.alpha, g.beta)
        return target

    def matmul(self, a, b, out):
        return promote_matmul(self._matmul, v.as_input(a), v.as_input(b), out)

    @staticmethod
    def _matmul(a, b, out):
        dt, shape = v.matmul_arguments(a, b, out)
        if out is None:
            out = np.empty(shape, dt)
        batch = shape[:-2]
        a = np.broadcast_to(_linalg.input_array(a), batch + a.shape[-2:])  # views: zero batch strides
        b = np.broadcast_to(_linalg.input_array(b), batch + b.shape[-2:])
        _sync_threads()
        lead = batch[:-2]  # the kernel loops over the last two batch axes itself
        for idx in np.ndindex(*lead):
            _linalg.gemm_into(a[idx], b[idx], out[idx], 1.0, 0.0)
        return out

    def conv2d(self, x, w, bias, scale, shift, spec, shape, algorithm, out, residual=None):
        _sync_threads()
        return _conv.conv2d(_conv.prepare(w, bias, scale, shift, spec), x, spec, shape, algorithm, out, residual)

    def im2col(self, x, spec, shape):
        _sync_threads()
        return _conv.im2col(x, spec, shape)

    def pack_conv2d(self, w, bias, scale, shift, spec):
        return _conv.prepare(w, bias, scale, shift, spec, own=True)

    def conv2d_packed(self, packed, x, spec, shape, algorithm, out, residual=None):
        _sync_threads()
        return _conv.conv2d(packed, x, spec, shape, algorithm, out, residual)

    def describe(self) -> dict:
        """The interface's description plus the kernels' compile state, read without compiling
        anything (measuring first calls here made `python -m hpc_kernels info` compile every
        kernel: ~100 s on a cold cache). first_call_seconds() measures them when asked."""
        d = super().describe()
        if self.available:
            kernels = _cache.state(_cache.cached_kernels((_gemm_kernels, _direct_kernels, _pack_kernels, _depthwise_kernels)))
            d["kernels"] = dict(kernels, cache_dir=CACHE_DIR, cold_compile_s=COLD_COMPILE_S)
        return d

    def first_call_seconds(self) -> dict:
        """Seconds of the first call of each kernel in this process (compiling it, or loading it
        from the disk cache), measured on tiny problems; kernels already run here cost ~0. The
        backend's own entry points, as the front end calls them."""
        rng = np.random.default_rng(0)
        times = {}
        for dt in (np.float32, np.float64):
            a = rng.standard_normal((8, 8)).astype(dt)
            x = rng.standard_normal((1, 4, 6, 6)).astype(dt)
            w = rng.standard_normal((4, 4, 3, 3)).astype(dt)
            dense = make_spec("first_call_seconds", 1, 1, 1, 1, "NCHW", None)
            depthwise = dense._replace(groups=4)
            t0 = time.perf_counter()
            self.gemm(a, a, None, 1.0, 0.0, False, False, None)
            for spec, wt, algorithm in ((dense, w, "im2col"), (dense, w, "direct"), (depthwise, w[:, :1], "direct")):
                self.conv2d(x, wt, None, None, None, spec, shape_of("first_call_seconds", x.shape, wt.shape, spec), algorithm, None)
            times[np.dtype(dt).name] = time.perf_counter() - t0
        return times


backend = NumbaBackend()
