"""`bench peak`: the FMA peak (one and all cores) and the streaming bandwidth are positive numbers."""
from __future__ import annotations

from hpc_kernels.__main__ import main
from hpc_kernels.bench import peak, record


def test_fma_peak_positive():
    one = peak.fma_peak("float32", 1, seconds=0.01, probes=1)
    if one is None:  # a build or CPU without the AVX2/AVX-512 probe
        return
    assert one > 0 and peak.fma_peak("float64", 2, seconds=0.01, probes=1) > 0


def test_bandwidth_positive():
    bw = peak.bandwidth(2, array_bytes=1 << 20, passes=1)
    assert bw["gbs"] > 0 and bw["threads"] == 2 and bw["array_bytes"] == 1 << 20
    llc = peak.llc_bytes()
    assert llc is None or llc > 0


def test_peak_cli_json(tmp_path, monkeypatch, capsys):
    fake = {"fma_gflops": {"float32": {"1": 100.0}}, "bandwidth": {"1": {"gbs": 10.0, "kernel": "add", "threads": 1,
                                                                       "array_bytes": 1 << 20, "llc_bytes": None}}}
    monkeypatch.setattr(peak, "measure", lambda threads, dtypes, seconds: fake)
    path = str(tmp_path / "p.json")
    assert main(["bench", "peak", "--threads", "1", "--dtype", "float32", "--json", path]) == 0
    out = capsys.readouterr().out
    assert "FMA peak, 1 core(s): 100.0 GFLOP/s" in out and "bandwidth, 1 thread(s): 10.0 GB/s" in out
    assert record.load(path)["meta"]["peak"] == fake
    assert main(["bench", "peak", "--dtype", "float16"]) == 2
