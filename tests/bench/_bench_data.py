"""Synthetic benchmark results for the bench tests: records of the unified schema without running anything."""
from __future__ import annotations

from typing import List

from hpc_kernels.bench import record


def gemm(suite: str, impl: str, n: int, gflops: float, threads: int = 1, dtype: str = "float32", correct: bool = True) -> dict:
    flops = 2.0 * n ** 3
    return record.make(suite, "gemm", f"square {n}", impl, flops / gflops / 1e9, flops, correct, dtype=dtype, threads=threads,
                       nbytes=4.0 * 3 * n * n, shape={"m": n, "n": n, "k": n})


def conv(suite: str, impl: str, layer: str, gflops: float, threads: int = 1, count: int = 2, layout: str = "NCHW") -> dict:
    flops = 1e8
    shape = dict(c=64, k=64, h=56, w=56, r=3, s=3, stride=1, padding=1, dilation=1, groups=1)
    return record.make(suite, "conv2d", layer, impl, flops / gflops / 1e9, flops, True, dtype="float32", threads=threads,
                       nbytes=2e6, shape=shape, net="resnet50", layout=layout, count=count)


def records(scale: float = 1.0, nhwc: bool = False) -> List[dict]:
    """A cpu and a numba suite on two sizes, two thread counts and two conv layers (nhwc: the cpu
    conv layers in NHWC too); `scale` multiplies ours."""
    out = []
    for nt in (1, 2):
        for n in (64, 256):
            out += [gemm("cpu", "cpu", n, 100 * nt * scale, nt), gemm("cpu", "numpy", n, 90 * nt, nt),
                    gemm("cpu", "torch", n, 95 * nt, nt), gemm("numba", "numba", n, 70 * nt * scale, nt),
                    gemm("numba", "numpy", n, 90 * nt, nt)]
        for layer in ("l1 3x3 64", "l2 3x3 128"):
            out += [conv("cpu", "cpu auto", layer, 150 * nt * scale, nt), conv("cpu", "cpu im2col", layer, 120 * nt * scale, nt),
                    conv("cpu", "numpy im2col", layer, 110 * nt, nt), conv("cpu", "torch channels_last", layer, 160 * nt, nt)]
            if nhwc:
                out += [conv("cpu", "cpu auto", layer, 170 * nt * scale, nt, layout="NHWC"),
                        conv("cpu", "torch channels_last", layer, 160 * nt, nt, layout="NHWC")]
    return out


def meta() -> dict:
    peak = {"fma_gflops": {"float32": {"1": 230.0, "2": 450.0}}, "bandwidth": {
        t: {"gbs": 12.0 * int(t), "kernel": "add c = a + b (float64, 24 B per element)", "threads": int(t),
            "array_bytes": 1 << 26, "llc_bytes": None} for t in ("1", "2")}}
    return {"date": "2026-11-25T00:00:00+00:00", "command": "python -m hpc_kernels bench all", "processor": "Test CPU",
            "machine": "x86_64", "cores": 2, "system": "Linux", "isa": {"float32": "avx512"}, "kernels": "0.1.0",
            "libraries": {"numpy": "2.0"}, "threads": [1, 2], "rounds": 1, "peak": peak,
            "backends": {"cpu": {"available": True, "reason": None}, "cuda": {"available": False, "reason": "no GPU"}}}
