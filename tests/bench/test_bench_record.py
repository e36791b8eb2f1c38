"""The unified benchmark record: fields, kinds, validation, JSON round trip, network totals and speedups."""
from __future__ import annotations

import json

import pytest

from _bench_data import conv, gemm, meta, records
from hpc_kernels.bench import analysis, record


def test_record_fields_and_kind():
    r = gemm("cpu", "cpu", 64, 100.0)
    assert set(record.FIELDS) <= set(r) and r["kind"] == "backend" and r["op"] == "gemm"
    assert r["gflops"] == pytest.approx(100.0) and r["seconds"] == pytest.approx(2 * 64**3 / 100e9)
    assert gemm("cpu", "numpy", 64, 90.0)["kind"] == "reference"
    assert record.kind_of("torch channels_last") == "reference" and record.kind_of("opencl fpga") == "backend"
    assert record.kind_of("clblast") == record.kind_of("cublas") == record.kind_of("cudnn") == "reference"


def test_expand_one_record_per_impl():
    recs = record.expand("cpu", "gemm", "square 8", {"cpu": 1e-6, "numpy": 2e-6}, {"cpu": True, "numpy": False}, 1024.0,
                         dtype="float64", threads=2, nbytes=1536.0, shape={"m": 8, "n": 8, "k": 8})
    assert [(r["impl"], r["correct"], r["threads"]) for r in recs] == [("cpu", True, 2), ("numpy", False, 2)]


@pytest.mark.parametrize("bad", [{"op": "fft"}, {"kind": "other"}, {"seconds": 0.0}, {"threads": 0}])
def test_validate_rejects(bad):
    r = {**gemm("cpu", "cpu", 64, 100.0), **bad}
    with pytest.raises(ValueError):
        record.validate(r)


def test_json_round_trip(tmp_path):
    doc = record.document(meta(), records())
    path = str(tmp_path / "r.json")
    record.dump(path, doc)
    back = record.load(path)
    assert back["schema"] == record.SCHEMA and back["records"] == json.loads(json.dumps(doc["records"]))
    assert back["meta"]["peak"]["bandwidth"]["2"]["gbs"] == 24.0


@pytest.mark.parametrize("text", ["{", "[]", '{"schema": 1}', '{"schema": 99, "records": []}',
                                  '{"schema": 1, "records": [{"op": "gemm"}]}'])
def test_load_rejects_other_files(tmp_path, text):
    path = tmp_path / "x.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="x.json"):
        record.load(str(path))


def test_speedups_and_totals():
    recs = records()
    sp = {(s["suite"], s["op"], s["case"], s["threads"]): s for s in analysis.speedups(recs)}
    s = sp[("cpu", "gemm", "square 64", 1)]
    assert s["ours"] == "cpu" and s["reference"] == "torch" and s["speedup"] == pytest.approx(100 / 95)
    c = sp[("cpu", "conv2d", "l1 3x3 64", 2)]
    assert c["ours"] == "cpu auto" and c["reference"] == "torch channels_last" and c["speedup"] == pytest.approx(150 / 160)
    (t,) = [t for t in analysis.net_totals(recs) if t["suite"] == "cpu" and t["op"] == "conv2d" and t["threads"] == 1]
    assert t["layers"] == 4 and t["distinct"] == 2 and t["speedup"] == pytest.approx(150 / 160)
    assert t["seconds"]["cpu auto"] == pytest.approx(4 * 1e8 / 150e9)
    summ = {(x["suite"], x["op"], x["threads"]): x for x in analysis.summary(recs)}
    assert summ[("numba", "gemm", 1)]["geomean"] == pytest.approx(70 / 90)


def test_totals_leave_out_an_impl_missing_on_a_layer():
    recs = [conv("cpu", "cpu auto", "a", 100.0), conv("cpu", "cpu auto", "b", 100.0), conv("cpu", "numpy im2col", "a", 50.0)]
    (t,) = analysis.net_totals(recs)
    assert list(t["seconds"]) == ["cpu auto"] and "speedup" not in t


def test_spread_from_timing_into_records():
    from hpc_kernels.bench.timing import interleaved_medians

    t = interleaved_medians({"cpu": lambda: None, "numpy": lambda: None}, rounds=2, sample_s=0.001)
    assert set(t) == set(t.spread) == {"cpu", "numpy"} and all(s >= 1.0 for s in t.spread.values())
    recs = record.expand("cpu", "gemm", "square 8", t, {"cpu": True, "numpy": True}, 1024.0, t.spread, dtype="float32",
                         threads=1, nbytes=768.0, shape={"m": 8, "n": 8, "k": 8})
    assert [r["spread"] for r in recs] == [t.spread["cpu"], t.spread["numpy"]]
    assert gemm("cpu", "cpu", 64, 100.0)["spread"] is None  # optional: a suite may not measure it
