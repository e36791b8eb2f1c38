"""The cpu backend's measured conv2d choices: recorded per layer in the cpu namespace of the tuning store, followed by "auto" on the cpu backend only, filled by the tune CLI."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest

import hpc_kernels
from hpc_kernels import _dispatch, _tuning
from hpc_kernels._api import conv_args as _conv_args
from hpc_kernels.backends.cpu import algorithms as _algorithms
from hpc_kernels.__main__ import main
from hpc_kernels.bench.layers import load as load_layers




def _layer(layout="NCHW"):
    spec = _conv_args.make_spec("t", 1, 1, 1, 1, layout, None)
    xs = (1, 8, 10, 10) if layout == "NCHW" else (1, 10, 10, 8)
    shape = _conv_args.shape_of("t", xs, (16, 8, 3, 3), spec)
    return xs, spec, shape


def test_empty_store_uses_heuristic(store):
    xs, spec, shape = _layer()
    assert store.entries() == {} and not store.has("cpu", "conv2d")
    assert _algorithms.auto(shape, spec, np.dtype(np.float32)) == "convgemm"


@pytest.mark.parametrize("choice", ["im2col", "convgemm"])
def test_auto_follows_recorded_choice(store, choice, caplog):
    xs, spec, shape = _layer()
    key = _tuning.layer_key(shape, spec, "float32", hpc_kernels.get_num_threads())
    path = _tuning.put("cpu", "conv2d", key, choice, _tuning.cpu_device(), measured={"seconds": {}})
    assert path == store.path and path.name == _tuning.FILE_NAME
    data = json.loads(path.read_text())
    assert data["schema"] == _tuning.SCHEMA
    assert data["entries"]["cpu"][_tuning.cpu_device().level_keys()[0]]["conv2d"][key]["value"] == choice
    assert _algorithms.auto(shape, spec, np.dtype(np.float32)) == choice
    # other dtypes are other keys
    assert _algorithms.auto(shape, spec, np.dtype(np.float64)) == "convgemm"
    with caplog.at_level(logging.DEBUG, logger="hpc_kernels"):
        x = np.ones(xs, np.float32)
        y = hpc_kernels.conv2d(x, np.ones((16, 8, 3, 3), np.float32), padding=1, backend="cpu")
    assert f"algorithm {choice!r} from the tuning store (cpu)" in caplog.text
    assert y[0, 0, 5, 5] == 72.0


def test_other_backends_never_follow_the_cpu_choice(store):
    """The issue: one cpu-keyed table answered cuda and opencl calls too."""
    xs, spec, shape = _layer()
    key = _tuning.layer_key(shape, spec, "float32", hpc_kernels.get_num_threads())
    others = ("opencl", "cuda", "numba", "reference")  # each decides "auto" itself (kernels/backends/<name>/algorithms.py)
    before = {b: _dispatch._load(b).choose_algorithm(shape, spec, np.dtype(np.float32), "auto") for b in others}
    _tuning.put("cpu", "conv2d", key, "im2col", _tuning.cpu_device())
    assert _algorithms.auto(shape, spec, np.dtype(np.float32)) == "im2col"
    assert {b: _dispatch._load(b).choose_algorithm(shape, spec, np.dtype(np.float32), "auto") for b in others} == before
    assert "im2col" not in before.values()


def test_a_choice_of_another_isa_is_another_device(store):
    """Choices measured under KERNELS_CPU_ISA=avx2 do not answer a run on avx512 kernels."""
    xs, spec, shape = _layer()
    key = _tuning.layer_key(shape, spec, "float32", hpc_kernels.get_num_threads())
    here = _tuning.cpu_device()
    other = _tuning.host_device("avx2" if here.arch != "avx2" else "generic")
    _tuning.put("cpu", "conv2d", key, "im2col", other)
    assert _algorithms.auto(shape, spec, np.dtype(np.float32)) == "convgemm"


def test_a_value_the_backend_does_not_know_is_skipped(store):
    xs, spec, shape = _layer()
    key = _tuning.layer_key(shape, spec, "float32", hpc_kernels.get_num_threads())
    _tuning.put("cpu", "conv2d", key, "fft", _tuning.cpu_device())
    assert _algorithms.auto(shape, spec, np.dtype(np.float32)) == "convgemm"


def test_record_merges_and_survives_a_corrupt_file(store, caplog):
    store.path.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="hpc_kernels"):
        assert store.entries() == {}
    assert "unreadable" in caplog.text
    dev = _tuning.cpu_device()
    _tuning.put("cpu", "conv2d", "a", "im2col", dev)
    _tuning.put("cpu", "conv2d", "b", "convgemm", dev)
    _tuning.forget()
    assert {k: _tuning.get("cpu", "conv2d", k, dev) for k in "ab"} == {"a": "im2col", "b": "convgemm"}


def _asks_store(layer, layout="NCHW"):
    spec = _conv_args.make_spec("t", layer.stride, layer.padding, layer.dilation, layer.groups, layout, None)
    shape = _conv_args.shape_of("t", layer.x_shape(1, layout), (layer.k, layer.c // layer.groups, layer.r, layer.s), spec)
    return _algorithms.heuristic_choice(shape, spec) is None


@pytest.mark.parametrize("argv", [["tune", "conv2d"], ["tune", "--backend", "cpu"]], ids=["ci form", "backend form"])
def test_tune_cli_fills_the_store(store, capsys, argv):
    """Only the layers where auto asks the store are tuned (AlexNet NCHW: the 11x11/4 RGB stem;
    its wider layers run the direct kernel). Both forms of the command line do the same."""
    tuned = sum(_asks_store(layer) for layer in load_layers("alexnet"))
    assert tuned >= 1
    assert main(argv + ["--net", "alexnet", "--rounds", "1", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert f"{tuned} layer choices written" in out
    recs = store.entries()["cpu"][_tuning.cpu_device().level_keys()[0]]["conv2d"]
    assert len(recs) == tuned and all(r["value"] in ("im2col", "convgemm") and r["measured"]["seconds"] for r in recs.values())
    from hpc_kernels.info import _tuning_info

    assert _tuning_info()["entries"] == {"cpu": {"conv2d": tuned}}  # hpc_kernels.info()["tuning_cache"]
