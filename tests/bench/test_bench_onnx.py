"""`python -m hpc_kernels bench onnx` and bench all's ONNX models: the CLI wiring on a tiny model built with
onnx.helper (no torch), tiny round and repeat counts; no timing is asserted."""
from __future__ import annotations

import json

import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from _onnx_tiny import tiny_model  # noqa: E402
from hpc_kernels.__main__ import main  # noqa: E402
from hpc_kernels.bench import onnx as bench_onnx  # noqa: E402
from hpc_kernels.bench import onnx_child, peak  # noqa: E402


def test_bench_onnx_file_model(tmp_path, capsys):
    """A PATH model: both runtimes measured (rounds, RSS, load), outputs agree, per-op profile of each, --json."""
    model, out = tiny_model(tmp_path / "tiny.onnx"), tmp_path / "r.json"
    rc = main(["bench", "onnx", "--model", model, "--threads", "1", "--rounds", "2", "--repeat", "1", "--batch", "3",
               "--json", str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "ratio hpc_kernels / onnxruntime" in cap.out and "per op type" in cap.out
    (r,) = json.loads(out.read_text())["onnx"]
    assert r["input_shape"] == [3, 3, 8, 8] and r["threads"] == 1 and r["correct"] and r["max_rel_error"] <= bench_onnx.RTOL
    for rt in ("ours", "ort"):
        assert len(r[rt]["rounds_s"]) == 2 and r[rt]["peak_rss_mib"] >= r[rt]["rss_start_mib"] > 0
        assert "Conv" in r["profile"][rt] and all(t >= 0 for t in r["profile"][rt].values())
    assert r["ratio"] == pytest.approx(r["ours"]["median_s"] / r["ort"]["median_s"])


@pytest.mark.parametrize("model,message", [("no-such-model", "neither an ONNX file nor a zoo model"), ("two", "one input")])
def test_bench_onnx_bad_model_exits_2(model, message, tmp_path, capsys):
    if model == "two":
        model = tiny_model(tmp_path / "two.onnx", inputs=2)
    assert main(["bench", "onnx", "--model", model, "--rounds", "1", "--repeat", "1"]) == 2
    assert message in capsys.readouterr().err


def test_bench_onnx_zoo_model(capsys):
    """A zoo model is exported first (needs torch) at --size."""
    pytest.importorskip("torch")
    rc = main(["bench", "onnx", "--model", "squeezenet1_1", "--size", "33", "--threads", "1", "--rounds", "1", "--repeat", "1"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "squeezenet1_1 (zoo, random weights): input 1x3x33x33 float32" in cap.out


def test_ort_profile_leaves_the_warmup_out(tmp_path):
    """onnxruntime's trace: node events inside the first (warm-up) model_run are not counted; the rest are
    summed per op type and averaged over the kept runs."""
    ev = [{"cat": "Session", "name": "model_run", "ts": 0, "dur": 100},
          {"cat": "Node", "name": "c_kernel_time", "ts": 10, "dur": 90, "args": {"op_name": "Conv"}},
          {"cat": "Session", "name": "model_run", "ts": 200, "dur": 100},
          {"cat": "Node", "name": "c_kernel_time", "ts": 210, "dur": 30, "args": {"op_name": "Conv"}},
          {"cat": "Node", "name": "r_kernel_time", "ts": 250, "dur": 4, "args": {"op_name": "Relu"}},
          {"cat": "Node", "name": "c_fence_before", "ts": 205, "dur": 50, "args": {"op_name": "Conv"}},
          {"cat": "Session", "name": "model_run", "ts": 400, "dur": 100},
          {"cat": "Node", "name": "c_kernel_time", "ts": 410, "dur": 10, "args": {"op_name": "Conv"}}]
    p = tmp_path / "trace.json"
    p.write_text(json.dumps(ev))
    assert onnx_child.ort_profile(str(p), skip=1) == pytest.approx({"Conv": 20e-6, "Relu": 2e-6})


@pytest.fixture
def tiny_bench_all(monkeypatch, tmp_path):
    """bench all reduced to one 8x8 GEMM and the tiny ONNX model (fake machine ceilings)."""
    from hpc_kernels.bench import cases
    from hpc_kernels.bench.suites import cpu

    monkeypatch.setattr(cpu, "gemm_cases", lambda args: [cases.GemmCase("square 8", 8, 8, 8)])
    monkeypatch.setattr(cpu, "layers_of", lambda args, per_net_quick=None: {})
    fake = {"fma_gflops": {"float32": {"1": 100.0}}, "bandwidth": {"1": {"gbs": 10.0, "kernel": "add", "threads": 1,
                                                                       "array_bytes": 1 << 20, "llc_bytes": None}}}
    monkeypatch.setattr(peak, "measure", lambda threads, dtypes, seconds: fake)
    monkeypatch.setattr(bench_onnx, "ALL_MODELS", (tiny_model(tmp_path / "tiny.onnx"),))
    monkeypatch.setattr(bench_onnx, "available", lambda: "")  # torch not needed by a file model


def test_bench_all_report_has_the_onnx_models(tiny_bench_all, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    report = tmp_path / "report"
    rc = main(["bench", "all", "--backend", "cpu", "--threads", "1", "--rounds", "1", "--repeat", "1", "--quick",
               "--no-torch", "--dtype", "float32", "--report", str(report)])
    assert rc == 0, capsys.readouterr().err
    md = (report / "report.md").read_text()
    assert "## ONNX models" in md and "onnx_models.png" in md and "tiny.onnx" in md
    assert (report / "onnx_models.png").stat().st_size > 0
    (r,) = json.loads((report / "results.json").read_text())["onnx"]
    assert r["correct"] and r["threads"] == 1 and "profile" not in r


def test_bench_all_no_onnx(tiny_bench_all, tmp_path, capsys):
    out = tmp_path / "r.json"
    rc = main(["bench", "all", "--backend", "cpu", "--threads", "1", "--rounds", "1", "--quick", "--no-torch",
               "--dtype", "float32", "--no-onnx", "--json", str(out)])
    assert rc == 0, capsys.readouterr().err
    assert "onnx" not in json.loads(out.read_text())


def test_bench_all_no_torch_leaves_the_zoo_models_out(tiny_bench_all, monkeypatch, tmp_path, capsys):
    """--no-torch keeps torch out of bench all, the zoo models' export included; the report says why."""
    monkeypatch.setattr(bench_onnx, "ALL_MODELS", ("resnet50",))
    out = tmp_path / "r.json"
    rc = main(["bench", "all", "--backend", "cpu", "--threads", "1", "--rounds", "1", "--quick", "--no-torch",
               "--dtype", "float32", "--json", str(out)])
    assert rc == 0, capsys.readouterr().err
    doc = json.loads(out.read_text())
    assert "onnx" not in doc and "--no-torch" in doc["onnx_skipped"]
