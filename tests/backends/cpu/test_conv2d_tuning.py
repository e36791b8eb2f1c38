"""The conv2d tuning cache: records per layer/machine, "auto" follows a recorded choice, the CLI fills it."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest

import kernels
from kernels import _tuning
from kernels._api import conv_args as _conv_args
from kernels.backends.cpu import algorithms as _algorithms
from kernels.__main__ import main
from kernels.bench.layers import load as load_layers


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setattr(_tuning, "cache_dir", lambda: tmp_path)
    _tuning.forget()
    yield tmp_path
    _tuning.forget()


def _layer(layout="NCHW"):
    spec = _conv_args.make_spec("t", 1, 1, 1, 1, layout, None)
    xs = (1, 8, 10, 10) if layout == "NCHW" else (1, 10, 10, 8)
    shape = _conv_args.shape_of("t", xs, (16, 8, 3, 3), spec)
    return xs, spec, shape


def test_empty_cache_uses_heuristic(cache):
    xs, spec, shape = _layer()
    assert _tuning.entries() == {}
    assert _algorithms.auto(shape, spec, np.dtype(np.float32)) == "convgemm"


@pytest.mark.parametrize("choice", ["im2col", "convgemm"])
def test_auto_follows_recorded_choice(cache, choice, caplog):
    xs, spec, shape = _layer()
    key = _tuning.layer_key(shape, spec, "float32", kernels.get_num_threads())
    path = _tuning.record({key: {"algorithm": choice, "seconds": {}}})
    assert path == cache / _tuning.FILE_NAME
    data = json.loads(path.read_text())
    assert data["machines"][_tuning.machine_id()][key]["algorithm"] == choice
    assert _algorithms.auto(shape, spec, np.dtype(np.float32)) == choice
    # other dtypes, layouts and thread counts are separate keys
    assert _algorithms.auto(shape, spec, np.dtype(np.float64)) == "convgemm"
    with caplog.at_level(logging.DEBUG, logger="kernels"):
        x = np.ones(xs, np.float32)
        y = kernels.conv2d(x, np.ones((16, 8, 3, 3), np.float32), padding=1)
    assert f"algorithm {choice!r} from the tuning cache" in caplog.text
    assert y[0, 0, 5, 5] == 72.0


def test_record_merges_and_survives_a_corrupt_file(cache):
    (cache / _tuning.FILE_NAME).write_text("{not json")
    _tuning.record({"a": {"algorithm": "im2col"}})
    _tuning.record({"b": {"algorithm": "convgemm"}})
    _tuning.forget()
    assert {k: v["algorithm"] for k, v in _tuning.entries().items()} == {"a": "im2col", "b": "convgemm"}


def _consults_cache(layer, layout="NCHW"):
    spec = _conv_args.make_spec("t", layer.stride, layer.padding, layer.dilation, layer.groups, layout, None)
    shape = _conv_args.shape_of("t", layer.x_shape(1, layout), (layer.k, layer.c // layer.groups, layer.r, layer.s), spec)
    return _algorithms.heuristic_choice(shape, spec) is None


def test_tune_cli_fills_the_cache(cache, capsys):
    """Only the layers where auto consults the cache are tuned (AlexNet NCHW: the 11x11/4 RGB stem;
    its wider layers run the direct kernel)."""
    tuned = sum(_consults_cache(layer) for layer in load_layers("alexnet"))
    assert tuned >= 1
    assert main(["tune", "conv2d", "--net", "alexnet", "--rounds", "1", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert f"{tuned} layer choices written" in out
    assert all(e["algorithm"] in ("im2col", "convgemm") for e in _tuning.entries().values())
    assert kernels.info()["tuning_cache"]["entries"] == tuned
