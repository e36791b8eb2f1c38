"""The tuning store (kernels/_tuning.py): get/put round trip, the device -> arch -> vendor -> default fallback, the defaults every backend registers beside its code, isolated backend namespaces, old files ignored with a note, concurrent writers, and the `python -m hpc_kernels tune --backend X` front end."""
from __future__ import annotations

import json
import logging
import multiprocessing
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import hpc_kernels
from hpc_kernels import _tuning
from hpc_kernels.__main__ import main

DEV = _tuning.Device("Acme X1 rev 2", "a1", "acme")




@pytest.fixture
def fake_backend(monkeypatch):
    """Defaults of a made-up backend "acme-be" at every level, removed afterwards."""
    monkeypatch.setitem(_tuning._registry, ("acme-be", "gemm"), _tuning._Registered(
        {"default": {"k": "default"}, "vendor:acme": {"k": "vendor default"}, "arch:a1": {"k": "arch default"}},
        lambda v: isinstance(v, str)))


def test_put_get_round_trip(tmp_path):
    path = tmp_path / "sub" / _tuning.FILE_NAME
    st = _tuning.Store(path)
    assert st.get("acme-be", "gemm", "k", DEV) is None and st.lookup("acme-be", "gemm", "k", DEV) is None
    assert st.put("acme-be", "gemm", "k", {"KC": 3}, DEV, measured={"gflops": 1.5}) == path
    assert st.get("acme-be", "gemm", "k", DEV) == {"KC": 3}
    fresh = _tuning.Store(path)  # another process: reads the file
    assert fresh.lookup("acme-be", "gemm", "k", DEV) == _tuning.Hit({"KC": 3}, "device", True)
    doc = json.loads(path.read_text())
    rec = doc["entries"]["acme-be"]["device:Acme X1 rev 2"]["gemm"]["k"]
    assert doc["schema"] == _tuning.SCHEMA == 2
    assert rec["value"] == {"KC": 3} and rec["measured"] == {"gflops": 1.5} and rec["kernels"] == hpc_kernels.__version__
    assert fresh.get("acme-be", "gemm", "other key", DEV, default=7) == 7
    with pytest.raises(TypeError):  # not JSON: refused before the file is touched
        st.put("acme-be", "gemm", "k", object(), DEV)
    assert json.loads(path.read_text()) == doc


def test_fallback_order(tmp_path, fake_backend):
    """Per level, most specific first: device, arch, vendor, then the default; at each level a
    tuned value before the registered default of that level."""
    st = _tuning.Store(tmp_path / _tuning.FILE_NAME)
    same_arch = DEV._replace(name="Acme X1 rev 3")
    same_vendor = _tuning.Device("Acme Z9", "a9", "acme")
    stranger = _tuning.Device("Other", "o1", "other")

    def levels():
        return [(h.value, h.level, h.tuned) for h in (st.lookup("acme-be", "gemm", "k", d) for d in (DEV, same_arch, same_vendor, stranger))]

    assert levels() == [("arch default", "arch", False), ("arch default", "arch", False),
                        ("vendor default", "vendor", False), ("default", "default", False)]
    st.put("acme-be", "gemm", "k", "tuned for acme", DEV, level="vendor")
    assert levels()[2:] == [("tuned for acme", "vendor", True), ("default", "default", False)]
    assert levels()[0] == ("arch default", "arch", False)  # a more specific level's default wins
    st.put("acme-be", "gemm", "k", "tuned for a1", DEV, level="arch")
    assert levels()[:2] == [("tuned for a1", "arch", True)] * 2
    st.put("acme-be", "gemm", "k", "tuned for rev 2", DEV)
    assert [v for v, _, _ in levels()] == ["tuned for rev 2", "tuned for a1", "tuned for acme", "default"]
    assert st.lookup("acme-be", "gemm", "k", None) == ("default", "default", False)  # no device: the default only
    with pytest.raises(ValueError, match="tuning level"):
        st.put("acme-be", "gemm", "k", "x", DEV, level="planet")


def test_a_value_failing_the_backends_check_falls_through(tmp_path, fake_backend, caplog):
    st = _tuning.Store(tmp_path / _tuning.FILE_NAME)
    st.put("acme-be", "gemm", "k", 42, DEV)  # the check wants a str
    st.put("acme-be", "gemm", "k", "vendor-wide", DEV, level="vendor")
    with caplog.at_level(logging.DEBUG, logger="hpc_kernels"):
        assert st.lookup("acme-be", "gemm", "k", DEV) == ("arch default", "arch", False)
    assert "fails the backend's check" in caplog.text


def test_defaults_live_beside_the_backends_and_answer_through_the_store(store):
    """Each backend registers its defaults from its own module; the store answers them, and a tuned
    value of the same key beside them."""
    from hpc_kernels.backends.cuda import plan
    from hpc_kernels.backends.cuda import sources as S
    from hpc_kernels.backends.opencl import tiles
    from hpc_kernels.backends.numba import gemm as G

    cpu_dev, gpu_dev = _tuning.Device("pocl", "CPU", "amd"), _tuning.Device("gpu", "GPU", "nvidia")
    assert _tuning.lookup("opencl", "gemm", "float32", cpu_dev) == (tiles.CPU["float32"], "arch", False)
    assert _tuning.lookup("opencl", "gemm", "float64", gpu_dev) == (tiles.GPU["float64"], "arch", False)
    assert _tuning.get("opencl", "gemm", "float32", _tuning.Device("fpga", "ACCELERATOR", "intel")) == tiles.GPU["float32"]
    assert G.blocks(np.float32) == (G.KC, G.NC[4]) and G.blocks(np.float64) == (G.KC, G.NC[8])
    assert plan.tiles_for(90, "Fake H200", "float16", "exact") == S.TC_DEFAULT["float16"]

    odd = dict(tiles.CPU["float32"], MWI=4)
    _tuning.put("opencl", "gemm", "float32", odd, cpu_dev)
    assert _tuning.lookup("opencl", "gemm", "float32", cpu_dev) == (odd, "device", True)
    assert _tuning.get("opencl", "gemm", "float32", cpu_dev._replace(name="another pocl")) == tiles.CPU["float32"]
    _tuning.put("opencl", "gemm", "float64", {"MWI": 4}, cpu_dev)  # not a full set of tiles: not used
    assert _tuning.get("opencl", "gemm", "float64", cpu_dev) == tiles.CPU["float64"]

    _tuning.put("numba", "gemm", "float32", {"KC": 128, "NC": 2048}, G.DEVICE)
    assert G.blocks(np.float32) == (128, 2048) and G.blocks(np.float64) == (G.KC, G.NC[8])

    cand = S.TC_CANDIDATES["float16"][2]
    _tuning.put("cuda", "gemm.tiles", plan.tiles_key("float16", "exact"), list(cand), plan.device(90, "Fake H200"), level="arch")
    assert plan.tiles_for(90, "Fake H100", "float16", "exact") == cand  # same sm_90: the arch level answers
    assert plan.tiles_for(80, "Fake A100", "float16", "exact") == S.TC_DEFAULT["float16"]
    assert not plan.cublas_measured_faster(90, "Fake H200", "float16", "exact", 4096, 4096, 4096)
    _tuning.put("cuda", "gemm.cublas", plan.gemm_key("float16", "exact", 4096, 4096, 4096), "cublas", plan.device(90, "Fake H200"))
    assert plan.cublas_measured_faster(90, "Fake H200", "float16", "exact", 4000, 4096, 3000)  # same shape class


def test_backend_namespaces_are_isolated(store):
    """A cpu entry never answers another backend's lookup, whatever op, key and device it shares."""
    cpu = _tuning.cpu_device()
    _tuning.put("cpu", "gemm", "float32", {"VW": 1}, cpu, level="vendor")
    _tuning.put("cpu", "conv2d", "layer", "im2col", cpu)
    for backend in ("opencl", "numba", "cuda"):
        assert not store.has(backend, "conv2d") and not store.has(backend, "gemm")
        assert _tuning.get(backend, "conv2d", "layer", cpu) is None
        hit = _tuning.lookup(backend, "gemm", "float32", cpu)
        assert hit is None or not hit.tuned
    assert store.has("cpu", "conv2d") and _tuning.get("cpu", "conv2d", "layer", cpu) == "im2col"


def test_forced_value_answers_without_writing(store):
    from hpc_kernels.backends.numba import gemm as G

    with store.forced("numba", "gemm", "float32", {"KC": 64, "NC": 256}):
        assert G.blocks(np.float32) == (64, 256)
        assert store.has("numba", "gemm")
    assert G.blocks(np.float32) == (G.KC, G.NC[4]) and not store.path.exists()


_SCHEMA_1 = {"version": 1, "machines": {"AMD EPYC | avx512 | kernels 0.1.0": {"some layer": {"algorithm": "im2col"}}}}


def test_old_format_file_is_ignored_with_a_note(tmp_path):
    """An old conv2d_tuning.json in KERNELS_CACHE_DIR is not read; one INFO note says so."""
    (tmp_path / "conv2d_tuning.json").write_text(json.dumps(_SCHEMA_1))
    code = ("import logging; from hpc_kernels import _tuning; from hpc_kernels.info import _tuning_info; logging.basicConfig(level=logging.INFO); "
            "st = _tuning.store(); print('ENTRIES', st.entries(), st.path); print('INFO', _tuning_info())")
    env = dict(os.environ, KERNELS_CACHE_DIR=str(tmp_path))
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"ENTRIES {{}} {tmp_path / 'tuning.json'}" in r.stdout
    notes = [line for line in r.stderr.splitlines() if "conv2d_tuning.json" in line]
    assert len(notes) == 1 and notes[0].startswith("INFO:hpc_kernels:old tuning cache") and "ignored" in notes[0]
    assert "'entries': {}" in r.stdout and "conv2d_tuning.json" in r.stdout.split("INFO", 1)[1]  # info() shows the note


def test_file_of_another_schema_is_ignored_then_replaced(tmp_path, caplog):
    path = tmp_path / _tuning.FILE_NAME
    path.write_text(json.dumps(dict(_SCHEMA_1, schema=1, entries={"cpu": {"device:x": {"conv2d": {"k": {"value": "im2col"}}}}})))
    st = _tuning.Store(path)
    with caplog.at_level(logging.WARNING, logger="hpc_kernels"):
        assert st.get("cpu", "conv2d", "k", _tuning.Device("x", "a", "v")) is None
    assert caplog.records[-1].levelno == logging.WARNING and "schema 1, this version reads schema 2" in caplog.text
    st.put("cpu", "conv2d", "k2", "convgemm", _tuning.Device("x", "a", "v"))
    doc = json.loads(path.read_text())
    assert doc["schema"] == 2 and list(doc["entries"]["cpu"]["device:x"]["conv2d"]) == ["k2"]


def test_a_newer_schema_is_not_overwritten(tmp_path):
    path = tmp_path / _tuning.FILE_NAME
    newer = json.dumps({"schema": 3, "entries": {"cpu": {}}})
    path.write_text(newer)
    st = _tuning.Store(path)
    assert st.entries() == {}
    with pytest.raises(RuntimeError, match="newer hpc-kernels"):
        st.put("cpu", "conv2d", "k", "im2col", DEV)
    assert path.read_text() == newer


def _writer(path: str, who: int, n: int) -> None:
    st = _tuning.Store(path)  # its own store: only the file lock orders the writers
    for i in range(n):
        st.put("acme-be", "gemm", f"w{who} k{i}", i, DEV)


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_concurrent_writers_leave_a_valid_file_with_every_key(tmp_path, kind):
    path = str(tmp_path / _tuning.FILE_NAME)
    writers, n = 4, 8
    if kind == "threads":
        workers = [threading.Thread(target=_writer, args=(path, w, n)) for w in range(writers)]
    else:
        ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        workers = [ctx.Process(target=_writer, args=(path, w, n)) for w in range(writers)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(300)
        assert getattr(t, "exitcode", 0) == 0
    doc = json.loads(open(path).read())
    keys = doc["entries"]["acme-be"]["device:Acme X1 rev 2"]["gemm"]
    assert doc["schema"] == 2 and len(keys) == writers * n
    assert [p for p in os.listdir(tmp_path) if p.endswith(".tmp")] == []  # no temporary file left behind


def test_info_shows_path_schema_and_entries_per_backend(store):
    _tuning.put("cpu", "conv2d", "a", "im2col", _tuning.cpu_device())
    _tuning.put("numba", "gemm", "float32", {"KC": 128, "NC": 1024}, DEV)
    _tuning.put("numba", "gemm", "float64", {"KC": 128, "NC": 512}, DEV)
    from hpc_kernels.info import _tuning_info, format_info

    t = _tuning_info()  # what hpc_kernels.info()["tuning_cache"] holds (the rest of info() probes every backend: slow)
    assert t["path"] == str(store.path) and t["exists"] and t["schema"] == 2
    assert t["entries"] == {"cpu": {"conv2d": 1}, "numba": {"gemm": 2}} and t["notes"] == []
    d = {"version": "v", "python": "3", "machine": "m", "processor": "p", "num_threads": 1, "cpu_engine": None, "backends": {},
         "tuning_cache": t}
    assert f"tuning store: {store.path} (schema 2; tuned values cpu: 1 conv2d; numba: 2 gemm)" in format_info(d)


# ------------------------------------------------------------------------------------- the tune front end

@pytest.mark.parametrize("argv, message", [
    (["tune", "gemm", "--net", "alexnet", "--quick", "--backend", "numba"], "--quick is for tune gemm --backend cpu"),
    (["tune", "gemm", "--threads", "1", "2"], "tune gemm --backend cpu measures at one thread count"),
    (["tune", "conv2d", "--backend", "opencl"], "the opencl backend tunes gemm, not conv2d"),
    (["tune", "--backend", "numba", "--dtype", "float16"], "float16 and bfloat16 are tuned with --backend cuda"),
    (["tune", "--backend", "cpu", "--sizes", "64"], "--sizes is for the gemm tuners"),
])
def test_tune_rejects_what_a_backend_does_not_tune(store, capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not store.path.exists()


def test_tune_numba_fills_its_namespace(store, capsys, monkeypatch):
    from hpc_kernels import _dispatch
    from hpc_kernels.bench.tune import numba as tuner

    if not _dispatch._load("numba").available:
        pytest.skip("numba is not installed")
    from hpc_kernels.backends.numba import gemm as G

    monkeypatch.setattr(tuner, "candidates", lambda itemsize: [{"KC": 64, "NC": 256}, {"KC": 128, "NC": 512}])  # two: quick
    assert main(["tune", "--backend", "numba", "--sizes", "32", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "1 block choices written" in out and "KC=64" in out and "KC=128" in out
    hit = _tuning.lookup("numba", "gemm", "float32", G.DEVICE)
    assert hit.tuned and hit.level == "device" and G.blocks(np.float32) == (hit.value["KC"], hit.value["NC"])
    assert list(store.entries()) == ["numba"]


def test_tune_opencl_fills_its_namespace(store, capsys):
    """Needs an OpenCL device that builds the kernels (CI: PoCL)."""
    from _opencl import backend, device
    from hpc_kernels.backends.opencl import tiles

    if not backend.available:
        pytest.skip(f"no OpenCL platform: {backend.reason}")
    assert main(["tune", "gemm", "--backend", "opencl", "--rounds", "1", "--sizes", "32"]) == 0
    assert "1 tile choices written" in capsys.readouterr().out
    assert tiles.tuned(device(), "float32") and list(store.entries()) == ["opencl"]


def test_tune_cuda_without_a_gpu_says_so_and_exits_2(store, capsys):
    from hpc_kernels import _dispatch

    if _dispatch._load("cuda").available:
        pytest.skip("a GPU is there (tests/bench/test_bench_cuda.py tunes on the emulated one)")
    assert main(["tune", "--backend", "cuda"]) == 2
    assert "tune --backend cuda: backend cuda is not available" in capsys.readouterr().err
    assert main(["tune", "gemm", "--backend", "cuda", "--sizes", "256"]) == 2
    assert not store.path.exists()
