"""`--report DIR`: report.md, report.html, results.json and the figures from a results document; styles tell implementations apart."""
from __future__ import annotations

import os

import pytest

from _bench_data import meta, records
from hpc_kernels.bench import record

pytest.importorskip("matplotlib")

from hpc_kernels.bench import plots, report  # noqa: E402


def test_report_files(tmp_path):
    doc = record.document(meta(), records(nhwc=True), failed={"opencl conv2d": "RuntimeError: child failed"})
    paths = report.write(doc, str(tmp_path / "out"))
    names = set(os.listdir(tmp_path / "out"))
    assert {"report.md", "report.html", "results.json", "gemm_cpu.png", "gemm_numba.png", "conv2d_cpu_resnet50_NCHW.png",
            "conv2d_cpu_resnet50_NHWC.png", "roofline.png"} <= names
    for name in names:
        assert os.path.getsize(tmp_path / "out" / name) > 0
    md = open(paths["md"]).read()
    assert "![cpu GEMM GFLOP/s against n](gemm_cpu.png)" in md and "| cpu | gemm | float32 | 1 | 2 |" in md
    assert "cuda | unavailable | no GPU" in md and "opencl conv2d | failed" in md
    assert "torch channels_last GFLOP/s" in md and "Network totals" in md
    html = open(paths["html"]).read()
    assert "### resnet50, NCHW" in md and "### resnet50, NHWC" in md
    assert html.count("data:image/png;base64,") == 5 and "<table>" in html
    assert record.load(paths["json"])["records"] == doc["records"]


def test_report_without_peak_has_no_roofline(tmp_path):
    m = meta()
    del m["peak"]
    report.write(record.document(m, records()), str(tmp_path))
    assert not (tmp_path / "roofline.png").exists() and (tmp_path / "gemm_cpu.png").exists()


def test_every_implementation_has_its_own_style():
    """Implementations that can share a figure differ in colour, marker or line style (aliases like cpu/cpu auto never meet)."""
    aliases = {"cpu auto": "cpu", "numba auto": "numba", "opencl im2col": "opencl", "cuda auto": "cuda", "numpy im2col": "numpy"}
    seen = {}
    for impl in plots.KNOWN:
        st = plots.style(impl)
        key = (st["color"], st["marker"], st["linestyle"])
        assert key not in seen or aliases.get(impl) == seen[key], (impl, seen.get(key))
        seen.setdefault(key, impl)
    assert plots.style("numpy")["linestyle"] == "--" and plots.style("cpu")["linestyle"] == "-"
    assert plots.style("some new lib") == plots.style("some new lib")


def test_report_from_an_earlier_json(tmp_path, capsys):
    from hpc_kernels.__main__ import main

    src = str(tmp_path / "r.json")
    record.dump(src, record.document(meta(), records()))
    assert main(["bench", "--from-json", src, "--report", str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / "report.md").exists() and (tmp_path / "rep" / "gemm_numba.png").exists()
    assert main(["bench", "--from-json", src]) == 2 and "--report DIR" in capsys.readouterr().err
    assert main(["bench", "--from-json", str(tmp_path / "none.json"), "--report", str(tmp_path / "x")]) == 2


def test_noisy_cases_are_flagged(tmp_path):
    recs = records()
    recs[0] = {**recs[0], "spread": 2.5}
    recs[1] = {**recs[1], "spread": 1.01}
    paths = report.write(record.document(meta(), recs), str(tmp_path))
    md = open(paths["md"]).read()
    assert "1 of " in md and "cases above 1.3" in md and "**2.50**" in md
