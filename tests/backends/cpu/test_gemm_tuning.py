"""The cpu engine's per-dtype GEMM configuration (_cpu.configure_gemm), its entries in the tuning store applied when the extension loads, and the `tune gemm --backend cpu` search that writes them."""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging

import numpy as np
import pytest

from hpc_kernels import _extension, _tuning
from hpc_kernels.__main__ import main
from hpc_kernels._config import config
from hpc_kernels.bench.tune import cli as tune_cli
from hpc_kernels.info import gemm_source_text

from _helpers import ISAS, RUNNABLE_UKERNELS, check_gemm, python_code, rand

_cpu, _ = _extension.cpu_extension()
DTYPES = ("float32", "float64")
ENV_BLOCKS = bool(config.cpu_mc or config.cpu_kc or config.cpu_nc)


def _kernels(dtype: str, isa: str = ""):
    """The full-height kernels of a dtype this CPU runs (of one ISA when given), best ISA first."""
    return [u for u in RUNNABLE_UKERNELS if u["dtype"] == dtype and not u["name"].endswith(("_half", "_narrow")) and (not isa or u["isa"] == isa)]


def _info(dtype: str) -> dict:
    return _cpu.info()[dtype]


# ------------------------------------------------------------------------------------ configure_gemm

@pytest.mark.parametrize(
    "args, message",
    [
        (("float16",), "dtype must be 'float32' or 'float64', got 'float16'"),
        (("float32", "ukr_nope"), r"no micro-kernel named 'ukr_nope' in this build; allowed float32 kernels: '' \(every kernel"),
        (("float32", "", -1), r"block sizes must be >= 0 \(0 = derived from the caches\), got MC=-1 KC=0 NC=0"),
        (("float64", "", 0, 0, -5), "block sizes must be >= 0"),
        (("float32", "", 0, 100_000), r"block sizes must be 0 \(derived\) or 1\.\.65536, got MC=0 KC=100000 NC=0"),
        (("float64", "", 60_000, 60_000), r"MiB of A \(MC x KC, at most 64 MiB\)"),
    ],
    ids=["dtype", "unknown kernel", "negative MC", "negative NC", "absurd KC", "A block too large"],
)
def test_configure_gemm_refuses_with_what_is_allowed(cpu_config, args, message):
    before = _cpu.info()
    with pytest.raises(ValueError, match=message):
        _cpu.configure_gemm(*args)
    after = _cpu.info()
    assert (after["float32"], after["float64"]) == (before["float32"], before["float64"])  # nothing half-applied


def test_configure_gemm_refuses_the_other_dtypes_kernel_and_half_variants(cpu_config):
    f64 = _kernels("float64")[0]["name"]
    with pytest.raises(ValueError, match=f"{f64} is a float64 kernel; allowed float32 kernels: ''"):
        _cpu.configure_gemm("float32", f64)
    edges = [u["name"] for u in RUNNABLE_UKERNELS if u["name"].endswith(("_half", "_narrow")) and u["dtype"] == "float32"]
    for name in edges[:2]:  # a half-height or narrow variant is part of its kernel, never chosen alone
        with pytest.raises(ValueError, match="no micro-kernel named"):
            _cpu.configure_gemm("float32", name)
    with pytest.raises(ValueError, match="source must be a label"):
        _cpu.configure_gemm("float32", source="")


@pytest.mark.skipif(len(ISAS) < 2, reason="needs two ISAs this CPU runs")
def test_configure_gemm_refuses_a_kernel_above_the_isa_cap(cpu_config):
    top, capped = ISAS[0], ISAS[1]
    name = _kernels("float32", top)[0]["name"]
    cpu_config(capped)
    with pytest.raises(ValueError, match=f"{name} is an {top} kernel, above the ISA cap {capped}"):
        _cpu.configure_gemm("float32", name)
    _cpu.configure_gemm("float32", _kernels("float32", capped)[0]["name"])  # at the cap: accepted


@pytest.mark.parametrize("dtype", DTYPES)
def test_configure_gemm_sets_one_dtype_and_stays_correct(cpu_config, rng, dtype):
    """Odd block sizes (MC rounded down to MR, NC to NR, KC as given) take effect for this dtype
    only, are reported with their source, and the products stay within the netlib-style bound."""
    other = "float64" if dtype == "float32" else "float32"
    other_before = _info(other)
    n_default = len(_info(dtype)["candidates"])
    u = _kernels(dtype)[-1]  # the last runnable kernel: the generic one, not the default choice
    _cpu.configure_gemm(dtype, u["name"], 2 * u["mr"] + 3, 37, 3 * u["nr"] + 1)
    e = _info(dtype)
    assert [c["ukernel"] for c in e["candidates"]] == [u["name"]]
    assert (e["mc"], e["kc"], e["nc"]) == (2 * u["mr"], 37, 3 * u["nr"])
    assert e["source"] == {"ukernel": "configure_gemm", "mc": "configure_gemm", "kc": "configure_gemm", "nc": "configure_gemm"}
    assert _info(other) == other_before
    for m, n, k in ((2 * u["mr"] + 5, 3 * u["nr"] + 7, 100), (1, 1, 1), (70, 50, 37)):  # several blocks in every loop
        a, b, c0 = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype), rand(rng, (m, n), dtype)
        import hpc_kernels

        got = hpc_kernels.gemm(a, b, c0.copy(), alpha=0.5, beta=-1.5, backend="cpu")
        check_gemm(got, a, b, c0, 0.5, -1.5, what=f"{u['name']} {m}x{n}x{k}")
    # blocks only: every kernel of the cap again, each rounding MC / NC to its own tile; KC derived
    _cpu.configure_gemm(dtype, mc=100, nc=50)
    e = _info(dtype)
    assert len(e["candidates"]) == n_default
    assert all(c["mc"] == max(c["mr"], 100 // c["mr"] * c["mr"]) and c["nc"] == max(c["nr"], 50 // c["nr"] * c["nr"])
               for c in e["candidates"])
    assert e["source"]["ukernel"] == "derived" and e["source"]["kc"] == "derived"
    assert "MC=" in gemm_source_text(e) and "KC derived" in gemm_source_text(e)
    # zeros: back to the derived configuration
    _cpu.configure_gemm(dtype)
    if not ENV_BLOCKS:
        assert _info(dtype)["source"] == dict.fromkeys(("ukernel", "mc", "kc", "nc"), "derived")


# ------------------------------------------------------------------------------------ the tuning store

@pytest.fixture
def no_env_blocks():
    if ENV_BLOCKS:
        pytest.skip("KERNELS_CPU_MC/KC/NC are set for this run (they override the store)")


def test_stored_entry_is_applied(store, cpu_config, no_env_blocks, caplog):
    u = _kernels("float32", _info("float32")["isa"])[-1]
    value = {"ukernel": u["name"], "mc": 3 * u["mr"], "kc": 120, "nc": 0}
    _tuning.put("cpu", "gemm", "float32", value, _tuning.cpu_device())
    f64 = _info("float64")
    with caplog.at_level(logging.INFO, logger="hpc_kernels"):
        _tuning.apply_cpu_gemm(_cpu)
    e = _info("float32")
    assert [c["ukernel"] for c in e["candidates"]] == [u["name"]] and (e["mc"], e["kc"]) == (3 * u["mr"], 120)
    assert e["source"] == {"ukernel": "tuned", "mc": "tuned", "kc": "tuned", "nc": "derived"}
    assert _info("float64") == f64  # no float64 entry: untouched
    assert "tuned configuration" in caplog.text
    assert gemm_source_text(e).startswith("GEMM parameters: tuned: kernel ")


@pytest.mark.parametrize(
    "value, why",
    [
        ({"ukernel": "OTHER"}, "is a float64 kernel"),
        ({"ukernel": "ukr_gone_in_this_build"}, "no micro-kernel named 'ukr_gone_in_this_build'"),
        ({"mc": -4}, "mc must be an integer >= 0"),
        ({"kc": 1 << 40}, "block sizes must be 0 (derived) or 1..65536"),
        ({"kc": "256"}, "kc must be an integer"),
        ({"KC": 256}, "unknown field(s) 'KC'"),
        ("ukr_f32_avx512_64x6", "not an object"),
    ],
    ids=["other dtype's kernel", "unknown kernel", "negative", "absurd", "string size", "unknown field", "not a dict"],
)
def test_bad_stored_entry_is_ignored_with_a_warning(store, cpu_config, no_env_blocks, caplog, value, why):
    if isinstance(value, dict) and value.get("ukernel") == "OTHER":
        value = {"ukernel": _kernels("float64")[0]["name"]}
    _tuning.put("cpu", "gemm", "float32", value, _tuning.cpu_device())
    before = _cpu.info()
    with caplog.at_level(logging.WARNING, logger="hpc_kernels"):
        _tuning.apply_cpu_gemm(_cpu)  # never raises
    assert _cpu.info()["float32"] == before["float32"]
    assert "cpu gemm float32 entry (device level) ignored" in caplog.text and why in caplog.text


def test_env_blocks_win_over_the_store(store, cpu_config, monkeypatch, caplog):
    _tuning.put("cpu", "gemm", "float32", {"kc": 96}, _tuning.cpu_device())
    monkeypatch.setattr(_tuning, "config", dataclasses.replace(config, cpu_kc=48))
    before = _cpu.info()
    with caplog.at_level(logging.INFO, logger="hpc_kernels"):
        _tuning.apply_cpu_gemm(_cpu)
    assert _cpu.info()["float32"] == before["float32"]
    assert "KERNELS_CPU_MC/KC/NC are set, the tuned entries" in caplog.text


def test_an_entry_of_another_isa_does_not_apply(store, cpu_config, no_env_blocks):
    here = _tuning.cpu_device()
    other = _tuning.host_device("avx2" if here.arch != "avx2" else "generic")
    _tuning.put("cpu", "gemm", "float32", {"kc": 96}, other)
    before = _cpu.info()
    _tuning.apply_cpu_gemm(_cpu)
    assert _cpu.info()["float32"] == before["float32"]


_REPORT = ("import json\nfrom hpc_kernels._extension import cpu_extension\nm, _ = cpu_extension()\n"
           "print(json.dumps({dt: m.info()[dt] for dt in ('float32', 'float64')}))")


def test_store_round_trip_in_a_fresh_process(tmp_path):
    """What the tuner writes reaches a new process's engine when the extension loads; a bad entry
    is skipped with a warning (the import still works); KERNELS_CPU_KC wins over the store."""
    device = _tuning.host_device(ISAS[0])  # the subprocess runs without KERNELS_CPU_ISA (run_python drops KERNELS_*)
    u = _kernels("float32", ISAS[0])[-1]
    st = _tuning.Store(tmp_path / _tuning.FILE_NAME)
    st.put_many("cpu", device, [("gemm", "float32", {"ukernel": u["name"], "mc": 0, "kc": 72, "nc": 5 * u["nr"]}, {"threads": 1}),
                                ("gemm", "float64", {"ukernel": u["name"]}, None)])  # a float32 kernel: refused
    p = python_code(_REPORT, {"KERNELS_CACHE_DIR": str(tmp_path)})
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout.strip().splitlines()[-1])
    f32 = got["float32"]
    assert [c["ukernel"] for c in f32["candidates"]] == [u["name"]] and (f32["kc"], f32["nc"]) == (72, 5 * u["nr"])
    assert f32["source"] == {"ukernel": "tuned", "mc": "derived", "kc": "tuned", "nc": "tuned"}
    assert got["float64"]["source"]["ukernel"] == "derived"
    assert "cpu gemm float64 entry (device level) ignored" in p.stderr and "is a float32 kernel" in p.stderr

    p = python_code(_REPORT, {"KERNELS_CACHE_DIR": str(tmp_path), "KERNELS_CPU_KC": "48", "KERNELS_VERBOSE": "1"})
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout.strip().splitlines()[-1])
    assert all(c["kc"] == 48 for c in got["float32"]["candidates"]) and len(got["float32"]["candidates"]) >= 1
    assert got["float32"]["source"] == {"ukernel": "derived", "mc": "derived", "kc": "env", "nc": "derived"}
    assert "KERNELS_CPU_MC/KC/NC are set, the tuned entries" in p.stderr


# ------------------------------------------------------------------------------------ the tuner

def _tune_args(argv):
    p = argparse.ArgumentParser()
    tune_cli.add_arguments(p)
    args = p.parse_args(argv)
    return args, tune_cli.check(args)


def test_cli_ops_of_the_cpu_backend():
    args, err = _tune_args(["--backend", "cpu"])
    assert err == "" and args.what == "conv2d" and tune_cli.module_name("cpu", args.what) == "cpu"
    args, err = _tune_args(["gemm", "--backend", "cpu"])
    assert err == "" and args.dtype == ["float32", "float64"] and args.sizes == [1024, 2048] and args.rounds == 5
    assert tune_cli.module_name("cpu", "gemm") == "cpu_gemm"
    args, err = _tune_args(["gemm", "--backend", "cpu", "--quick"])
    assert err == "" and args.sizes == [1024] and args.rounds == 3
    assert "--quick is for tune gemm --backend cpu" in _tune_args(["conv2d", "--quick"])[1]
    assert "--sizes is for the gemm tuners" in _tune_args(["conv2d", "--sizes", "64"])[1]
    assert "one thread count" in _tune_args(["gemm", "--threads", "1", "2"])[1]
    assert "tunes gemm, not conv2d" in _tune_args(["conv2d", "--backend", "numba"])[1]
    args, err = _tune_args(["--backend", "numba"])
    assert err == "" and args.what == "gemm" and tune_cli.module_name("numba", "gemm") == "numba"


def test_tuner_dry_run_prints_a_choice_and_writes_nothing(store, capsys):
    assert main(["tune", "gemm", "--backend", "cpu", "--quick", "--sizes", "128", "--rounds", "1", "--dry-run",
                 "--dtype", "float32"]) == 0
    out = capsys.readouterr().out
    assert "tune gemm --backend cpu: float32 at" in out and "kernel " in out and "KC " in out
    assert ("float32: chose " in out) or ("float32: kept the default" in out)
    assert "dry run: tuning store not written" in out and not store.path.exists()


def test_tuner_writes_an_entry_the_loader_accepts(store, capsys, monkeypatch):
    assert main(["tune", "gemm", "--backend", "cpu", "--quick", "--sizes", "96", "--rounds", "1", "--dtype", "float64",
                 "--threads", "1"]) == 0
    assert "1 gemm configurations written to" in capsys.readouterr().out
    rec = store.entries()["cpu"][_tuning.cpu_device().level_keys()[0]]["gemm"]["float64"]
    assert set(rec["value"]) == {"ukernel", "mc", "kc", "nc"} and _tuning.cpu_gemm_problem(rec["value"]) == ""
    m = rec["measured"]
    assert m["threads"] == 1 and m["sizes"] == [96] and "speedup" in m and set(m["seconds"]) == {"default", "chosen"}
