"""The backend interface (kernels/backends/base.py) as every backend implements it: the algorithm
names it declares against the shared vocabulary, its own "auto", the kernel it reports for each
name, and the dispatcher asking can_run / should_run."""
from __future__ import annotations

import logging

import numpy as np
import pytest

import hpc_kernels
from _conv_cases import LAYERS, LAYOUTS
from hpc_kernels import _dispatch, _tuning
from hpc_kernels._api.conv_args import ALGORITHMS, make_spec, pointwise, shape_of

NAMES = _dispatch.backend_names()


def _layer(layer, layout):
    spec = make_spec("t", layer.stride, layer.padding, layer.dilation, layer.groups, layout, None)
    return spec, shape_of("t", layer.x_shape(layout), layer.w_shape, spec)


def test_the_vocabulary_is_the_union_of_what_the_backends_implement():
    implemented = set().union(*(_dispatch._load(n).algorithms for n in NAMES))
    assert set(ALGORITHMS) == implemented | {"auto"}


@pytest.mark.parametrize("name", NAMES)
def test_auto_picks_an_algorithm_the_backend_implements(name):
    be = _dispatch._load(name)  # available or not: the choice needs no device
    assert be.algorithms and be.auto and be.describe()["algorithms"] == dict(be.algorithms)
    for layer in LAYERS:
        for layout in LAYOUTS:
            spec, shape = _layer(layer, layout)
            choice = be.choose_algorithm(shape, spec, np.dtype(np.float32), "auto")
            assert choice in be.algorithms, (name, layer.name, layout, choice)
            assert choice != "gemm" or pointwise(shape, spec)


@pytest.mark.parametrize("name", ["opencl", "cuda"])
def test_device_backends_reject_what_they_do_not_run(name):
    be = _dispatch._load(name)
    spec, shape = _layer(LAYERS[0], "NCHW")
    with pytest.raises(ValueError, match=f"the {name} backend does not implement algorithm 'direct'; it implements .*'convgemm'"):
        be.choose_algorithm(shape, spec, np.dtype(np.float32), "direct")
    assert be.choose_algorithm(shape, spec, np.dtype(np.float32), "auto") == "convgemm"  # the implicit gather


def test_opencl_call_with_an_algorithm_it_lacks_raises():
    if not _dispatch._load("opencl").available:
        pytest.skip(_dispatch._load("opencl").reason)
    x, w = np.ones((1, 2, 5, 5), np.float32), np.ones((3, 2, 3, 3), np.float32)
    with pytest.raises(ValueError, match="does not implement algorithm 'direct'"):
        hpc_kernels.conv2d(x, w, algorithm="direct", backend="opencl")
    with pytest.raises(ValueError, match="Conv2d: the opencl backend does not implement algorithm 'gemm'"):
        hpc_kernels.Conv2d(w, algorithm="gemm", backend="opencl")


def test_each_backend_reports_the_kernel_that_runs():
    pw = next(la for la in LAYERS if la.name == "1x1-c17-k19")
    for layout in LAYOUTS:
        spec, shape = _layer(pw, layout)
        dt = np.dtype(np.float32)
        assert _dispatch._load("numba").choose_algorithm(shape, spec, dt, "gemm") == "direct"
        assert _dispatch._load("cuda").choose_algorithm(shape, spec, dt, "gemm") == ("gemm" if layout == "NHWC" else "convgemm")
        assert _dispatch._load("cpu").choose_algorithm(shape, spec, dt, "gemm") == "gemm"
        for a in ("im2col", "convgemm", "gemm", "direct"):
            assert _dispatch._load("reference").choose_algorithm(shape, spec, dt, a) == "direct"
    spec, shape = _layer(LAYERS[0], "NCHW")  # 3x3: "gemm" does not apply, on any backend
    for name in NAMES:
        be = _dispatch._load(name)
        if "gemm" in be.algorithms:
            with pytest.raises(ValueError, match="'gemm' needs a 1x1 kernel"):
                be.choose_algorithm(shape, spec, np.dtype(np.float32), "gemm")


def test_only_the_cpu_backend_follows_its_tuned_choices(store):
    """The cpu namespace of the store holds choices measured on its kernels; the others decide alone."""
    spec = make_spec("t", 1, 1, 1, 1, "NCHW", None)
    shape = shape_of("t", (1, 8, 10, 10), (16, 8, 3, 3), spec)
    dt = np.dtype(np.float32)
    before = {n: _dispatch._load(n).choose_algorithm(shape, spec, dt, "auto") for n in NAMES}
    assert before["cpu"] == "convgemm"
    _tuning.put("cpu", "conv2d", _tuning.layer_key(shape, spec, "float32", hpc_kernels.get_num_threads()), "im2col",
                _tuning.cpu_device())
    after = {n: _dispatch._load(n).choose_algorithm(shape, spec, dt, "auto") for n in NAMES}
    assert after == dict(before, cpu="im2col")


def test_the_front_end_logs_the_algorithm_that_runs(caplog):
    x, w = np.ones((1, 2, 5, 5)), np.ones((3, 2, 3, 3))
    with caplog.at_level(logging.DEBUG, logger="hpc_kernels"):
        hpc_kernels.conv2d(x, w, algorithm="im2col", backend="reference")
    assert "conv2d: algorithm 'direct' on backend 'reference' (asked for 'im2col')" in caplog.text


def test_dispatch_asks_the_backends(monkeypatch, type_dispatch):
    """A backend that can run a call but should not (should_run False) is passed over."""
    a = np.ones((3, 3))
    cpu = _dispatch._load("cpu")
    if not cpu.available:
        pytest.skip(cpu.reason)
    _dispatch._fast.clear()
    _dispatch._fast_names.clear()
    try:
        assert cpu.can_run("gemm", a) and not cpu.can_run("gemm", [a]) and not cpu.can_run("im2col_typo", a)
        assert _dispatch._by_array_type("gemm", a).name == "cpu"
        monkeypatch.setattr(cpu, "should_run", lambda op, x: False)
        expected = "numba" if _dispatch._load("numba").available else "reference"
        assert _dispatch._by_array_type("gemm", a).name == expected
        np.testing.assert_array_equal(hpc_kernels.gemm(a, a), a @ a)
        assert _dispatch._fast_names["gemm"][np.ndarray] == expected
    finally:
        _dispatch._fast.clear()
        _dispatch._fast_names.clear()
