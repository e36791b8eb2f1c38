"""`bench --backend cuda` without a GPU: the suite's host side (operands, timing loop, checks of our
results and cuBLAS's, records) on the emulated cuda backend of tests/_fake_cupy.py, with host-clock
events standing in for CUDA events. Tiny sizes; the timing itself is what a GPU run measures."""
from __future__ import annotations

import sys
import time
import types

import numpy as np
import pytest

import _fake_cupy as fc
import kernels
from kernels.bench import cases, layers, peak, record
from kernels.bench.layers import ConvLayer

TINY = ConvLayer("resnet50", "tiny 3x3", 8, 8, 6, 6, 3, 3, 1, 1, 1, 1, 3)


class _Event:
    def record(self) -> None:
        self.t = time.perf_counter()

    def synchronize(self) -> None:
        pass


def _rng(seed):
    g = np.random.default_rng(seed)
    return types.SimpleNamespace(standard_normal=lambda shape, dtype=np.float64: g.standard_normal(shape, dtype=dtype).view(fc.ndarray))


@pytest.fixture
def emulated(monkeypatch):
    with fc.installed(monkeypatch), kernels.use_backend("cuda"):
        from kernels.backends import cuda

        fake = cuda.cp
        fake.random = types.SimpleNamespace(default_rng=_rng)
        fake.cuda.Event = _Event
        fake.cuda.get_elapsed_time = lambda start, end: (end.t - start.t) * 1e3
        fake.matmul = lambda a, b, out=None: np.matmul(a, b, out=out)
        fake.abs, fake.all = np.abs, np.all
        monkeypatch.setitem(sys.modules, "cupy", fake)
        monkeypatch.setitem(cases.SQUARE, "cuda", ((16, 24), (16,)))
        monkeypatch.setattr(layers, "load", lambda net: [TINY])
        monkeypatch.setattr(peak, "measure", lambda threads, dtypes, seconds: {"fma_gflops": {}, "bandwidth": {}})
        yield


def test_cuda_suite_records(emulated, tmp_path, capsys):
    from kernels.__main__ import main

    path = str(tmp_path / "g.json")
    rc = main(["bench", "gemm", "--backend", "cuda", "--quick", "--rounds", "1", "--dtype", "float32", "float16", "--json", path])
    assert rc == 0, capsys.readouterr().err
    recs = record.load(path)["records"]
    got = {(r["case"], r["dtype"], r["impl"], r["kind"]) for r in recs}
    assert got == {("square 16", "float32", "cuda", "backend"), ("square 16", "float32", "cublas", "reference"),
                   ("square 16 tf32", "float32", "cuda", "backend"), ("square 16 tf32", "float32", "cublas", "reference"),
                   ("square 16", "float16", "cuda", "backend"), ("square 16", "float16", "cublas", "reference")}
    assert all(r["correct"] and r["suite"] == "cuda" for r in recs)
    path = str(tmp_path / "c.json")
    rc = main(["bench", "conv2d", "--backend", "cuda", "--quick", "--rounds", "1", "--dtype", "float32", "--no-torch",
               "--json", path])
    assert rc == 0, capsys.readouterr().err
    recs = record.load(path)["records"]
    assert {r["impl"] for r in recs} == {"cuda auto", "cuda im2col", "cuda convgemm"}
    assert all(r["correct"] and r["case"] == "tiny 3x3" and r["count"] == 3 for r in recs)
    assert "total over 3 layers" in capsys.readouterr().out
