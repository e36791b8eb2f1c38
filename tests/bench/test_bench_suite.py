"""`python -m hpc_kernels bench`: a tiny cpu run in process (one small GEMM, one small conv layer, one
round), its records and JSON; backend selection and the messages of bad requests."""
from __future__ import annotations

import pytest

from hpc_kernels.__main__ import main
from hpc_kernels.bench import cases, peak, record, suite
from hpc_kernels.bench import onnx as bench_onnx
from hpc_kernels.bench.suites import cpu
from hpc_kernels.bench.layers import ConvLayer

TINY_LAYER = ConvLayer("resnet50", "tiny 3x3", 4, 8, 8, 8, 3, 3, 1, 1, 1, 1, 2)


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setattr(cpu, "gemm_cases", lambda args: [cases.GemmCase("square 8", 8, 8, 8)])
    monkeypatch.setattr(cpu, "layers_of", lambda args, per_net_quick=None: {"resnet50": [TINY_LAYER]})
    fake = {"fma_gflops": {"float32": {"1": 100.0}}, "bandwidth": {"1": {"gbs": 10.0, "kernel": "add", "threads": 1,
                                                                       "array_bytes": 1 << 20, "llc_bytes": None}}}
    monkeypatch.setattr(peak, "measure", lambda threads, dtypes, seconds: fake)
    monkeypatch.setattr(bench_onnx, "ALL_MODELS", ())  # bench all's ONNX models: tests/bench/test_bench_onnx.py


def test_all_cpu_records(tiny, tmp_path, capsys):
    path = str(tmp_path / "r.json")
    rc = main(["bench", "all", "--backend", "cpu", "--threads", "1", "--rounds", "1", "--dtype", "float32", "--quick",
               "--no-torch", "--json", path])
    assert rc == 0, capsys.readouterr().err
    doc = record.load(path)
    got = {(r["op"], r["case"], r["impl"], r["kind"]) for r in doc["records"]}
    assert got == {("gemm", "square 8", "cpu", "backend"), ("gemm", "square 8", "numpy", "reference"),
                   ("conv2d", "tiny 3x3", "cpu auto", "backend"), ("conv2d", "tiny 3x3", "cpu im2col", "backend"),
                   ("conv2d", "tiny 3x3", "cpu convgemm", "backend"), ("conv2d", "tiny 3x3", "numpy im2col", "reference")}
    assert all(r["correct"] and r["threads"] == 1 and r["suite"] == "cpu" for r in doc["records"])
    conv = [r for r in doc["records"] if r["op"] == "conv2d"]
    assert all(r["net"] == "resnet50" and r["count"] == 2 for r in conv)
    assert sorted(r["layout"] for r in conv if r["impl"] == "cpu auto") == ["NCHW", "NHWC"]  # bench all: both layouts
    m = doc["meta"]
    assert m["peak"]["bandwidth"]["1"]["gbs"] == 10.0 and m["threads"] == [1] and "numpy" in m["libraries"]
    assert m["backends"]["cpu"]["available"] and "cpu gemm" in doc["rows"] and "cpu conv2d NHWC" in doc["rows"]
    out = capsys.readouterr().out
    assert "square 8" in out and "tiny 3x3" in out


def test_default_selection():
    import argparse

    avail = {"cpu": {"available": True}, "numba": {"available": True}, "opencl": {"available": False, "reason": "no platform"},
             "cuda": {"available": False, "reason": "no GPU"}}
    ns = lambda **kw: argparse.Namespace(**{"backend": None, "what": "gemm", "report": None, **kw})  # noqa: E731
    assert suite.select(ns(), avail) == (["cpu"], "")
    assert suite.select(ns(what="all"), avail) == (["cpu", "numba"], "")
    assert suite.select(ns(report="out"), avail) == (["cpu", "numba"], "")
    sel, err = suite.select(ns(backend=["cpu", "cuda"]), avail)
    assert sel == [] and "backend cuda is not available: no GPU" in err


def test_unavailable_backend_exits_2(capsys):
    import hpc_kernels

    if hpc_kernels.info()["backends"]["cuda"]["available"]:
        pytest.skip("a GPU is there")
    assert main(["bench", "gemm", "--backend", "cuda", "--quick", "--rounds", "1"]) == 2
    assert "backend cuda is not available" in capsys.readouterr().err


def test_16_bit_dtypes_on_host_backends_exit_2(capsys):
    assert main(["bench", "gemm", "--backend", "cpu", "--dtype", "float16"]) == 2
    assert "cuda backend only" in capsys.readouterr().err


def test_report_into_a_file_exits_2(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("")
    assert main(["bench", "all", "--report", str(f)]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_json_into_a_missing_folder_exits_2(tmp_path, capsys):
    assert main(["bench", "gemm", "--json", str(tmp_path / "no" / "r.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
