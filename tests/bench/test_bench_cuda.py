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
import hpc_kernels
from hpc_kernels.bench import cases, layers, peak, record
from hpc_kernels.bench.layers import ConvLayer

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
    with fc.installed(monkeypatch), hpc_kernels.use_backend("cuda"):
        from hpc_kernels.backends import cuda

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
    from hpc_kernels.__main__ import main

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


def test_cuda_tuner_fills_its_namespace(emulated, tmp_path, monkeypatch, capsys):
    """`tune --backend cuda` on the emulated GPU: every candidate checked and timed, the fastest tiles
    and the cuBLAS-or-ours choice per size recorded under the GPU in the cuda namespace only."""
    from hpc_kernels import _tuning
    from hpc_kernels.__main__ import main
    from hpc_kernels.backends.cuda import plan
    from hpc_kernels.backends.cuda import sources as S
    from hpc_kernels.backends import cuda

    monkeypatch.setattr(cuda.cp, "empty_like", lambda x: cuda.cp.empty(x.shape, x.dtype), raising=False)
    monkeypatch.setattr(_tuning, "cache_path", lambda: tmp_path / _tuning.FILE_NAME)
    _tuning.forget()
    try:
        rc = main(["tune", "--backend", "cuda", "--sizes", "16", "--rounds", "1", "--dtype", "float32"])
        assert rc == 0, capsys.readouterr().err
        assert "4 cuda choices written" in capsys.readouterr().out  # tiles + cuBLAS choice, exact and tf32
        st = _tuning.store()
        assert list(st.entries()) == ["cuda"]
        dev = plan.device(90, "Emulated sm_90")
        for prec in ("exact", "tf32"):
            hit = st.lookup("cuda", "gemm.tiles", plan.tiles_key("float32", prec), dev)
            assert hit.tuned and tuple(hit.value) in {tuple(c) for c in S.candidates("float32", prec)}
            assert st.get("cuda", "gemm.cublas", plan.gemm_key("float32", prec, 16, 16, 16), dev) in ("cublas", "kernels")
    finally:
        _tuning.forget()
