"""hpc_kernels.workflow: task functions (arrays and .npy paths), thread binding to the task's
resources, the @software descriptions and their schema, the PyCOMPSs guard."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import hpc_kernels

wf = pytest.importorskip("hpc_kernels.workflow")
pytest.importorskip("jsonschema", reason="jsonschema (test extra) not installed")
pytest.importorskip("threadpoolctl", reason="threadpoolctl (test extra) not installed")


@pytest.fixture
def operands(rng):
    a = rng.standard_normal((67, 45)).astype(np.float32)
    b = rng.standard_normal((45, 31)).astype(np.float32)
    c = rng.standard_normal((67, 31)).astype(np.float32)
    x = rng.standard_normal((3, 4, 11, 9)).astype(np.float32)
    w = rng.standard_normal((5, 4, 3, 3)).astype(np.float32)
    return a, b, c, x, w


def test_gemm_task_equals_direct_call_for_arrays_and_paths(operands, tmp_path):
    a, b, c, _, _ = operands
    direct = hpc_kernels.gemm(a, b, c.copy(), alpha=0.5, beta=2.0)
    np.testing.assert_array_equal(wf.gemm_task(a, b, c, alpha=0.5, beta=2.0), direct)
    for name, arr in zip("abc", (a, b, c)):
        np.save(tmp_path / f"{name}.npy", arr)
    out = tmp_path / "out.npy"
    got = wf.gemm_task(str(tmp_path / "a.npy"), tmp_path / "b.npy", tmp_path / "c.npy", alpha=0.5, beta=2.0, out=out)
    assert got == str(out)
    np.testing.assert_array_equal(np.load(out), direct)
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), c)  # a task's inputs stay unchanged


def test_conv2d_task_equals_direct_call(operands, tmp_path):
    _, _, _, x, w = operands
    direct = hpc_kernels.conv2d(x, w, padding=1, stride=2, activation="relu")
    np.testing.assert_array_equal(wf.conv2d_task(x, w, padding=1, stride=2, activation="relu"), direct)
    np.save(tmp_path / "x.npy", x)
    wf.conv2d_task(tmp_path / "x.npy", w, out=tmp_path / "y.npy", padding=1, stride=2, activation="relu")
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), direct)


def test_task_info_names_backend_and_threads(operands):
    a, b, _, _, _ = operands
    _, info = wf.gemm_task(a, b, info=True)
    assert info["kernel"] == "gemm" and info["backend"] == "cpu" and info["seconds"] >= 0
    assert info["threads"] == hpc_kernels.get_num_threads() or info["threads"] <= wf.owned_threads()[0]
    _, info = wf.gemm_task(a, b, backend="reference", info=True)
    assert info["backend"] == "reference"


@pytest.mark.parametrize("var", ["COMPSS_NUM_THREADS", "OMP_NUM_THREADS"])
def test_computing_units_bind_the_threads(operands, monkeypatch, var):
    a, b, _, _, _ = operands
    monkeypatch.delenv("COMPSS_NUM_THREADS", raising=False)
    monkeypatch.setenv(var, "1")
    before = hpc_kernels.get_num_threads()
    _, info = wf.gemm_task(a, b, info=True)
    assert (info["threads"], info["threads_from"]) == (1, var)
    _, info = wf.gemm_task(a, b, threads=8, info=True)  # asking for more than the task owns
    assert info["threads"] == 1
    assert hpc_kernels.get_num_threads() == before  # restored after the task


def test_bad_computing_units_are_named(monkeypatch):
    monkeypatch.setenv("COMPSS_NUM_THREADS", "zero")
    with pytest.raises(ValueError, match="COMPSS_NUM_THREADS='zero'"):
        wf.owned_threads()


def test_task_errors_name_the_file(tmp_path, operands):
    a, _, _, _, _ = operands
    with pytest.raises(FileNotFoundError, match="gemm: b: input file .*missing.npy' does not exist"):
        wf.gemm_task(a, str(tmp_path / "missing.npy"))
    (tmp_path / "junk.npy").write_text("not an array")
    with pytest.raises(ValueError, match="junk.npy' is not a readable .npy array file"):
        wf.conv2d_task(tmp_path / "junk.npy", a)


def test_gpu_given_without_cuda_backend_keeps_the_default(operands, monkeypatch):
    a, b, _, _, _ = operands
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    try:
        hpc_kernels.get_backend("cuda")
        pytest.skip("a CUDA GPU is present: the task would run on it")
    except (ImportError, ValueError):
        pass
    assert wf.gemm_task(a, b, info=True)[1]["backend"] == "cpu"


def test_save_atomic_leaves_nothing_on_failure(tmp_path):
    class Unsaveable:
        def __array__(self, *args, **kwargs):
            raise RuntimeError("cannot convert")

    with pytest.raises(RuntimeError):
        wf.save_atomic(tmp_path / "out.npy", Unsaveable())
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("kernel", ["gemm", "conv2d"])
def test_description_binary_step_runs_as_written(kernel, tmp_path):
    # The step a workflow manager runs: the description's binary and arguments, placeholders filled.
    # (After the rename its "-m kernels" would have started Hugging Face's `kernels`, or nothing.)
    import re
    import subprocess
    import sys

    rng = np.random.default_rng(0)
    if kernel == "gemm":
        ins = {"a": rng.standard_normal((5, 4)), "b": rng.standard_normal((4, 3))}
        values = {"alpha": "2.0", "beta": "0.0"}
        out, expect = "c", lambda: 2.0 * ins["a"] @ ins["b"]
    else:
        ins = {"x": rng.standard_normal((1, 2, 6, 6)), "w": rng.standard_normal((3, 2, 3, 3))}
        values = {"stride": "1", "padding": "1"}
        out = "y"
        expect = lambda: hpc_kernels.conv2d(ins["x"], ins["w"], padding=1, backend="reference")  # noqa: E731
    for name, arr in ins.items():
        np.save(tmp_path / f"{name}.npy", arr)
    values.update({name: str(tmp_path / f"{name}.npy") for name in ins}, **{out: str(tmp_path / f"{out}.npy")})
    d = wf.description(kernel)["execution"]
    args = re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], d["args"]).split()
    assert d["binary"] == "python"
    p = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    np.testing.assert_allclose(np.load(tmp_path / f"{out}.npy"), expect(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel", ["gemm", "conv2d"])
def test_descriptions_validate_and_load(kernel):
    d = wf.description(kernel)
    assert d["execution"]["type"] == "binary" and d["constraints"]["computing_units"] == 1
    assert set(d["parameters"].values()) >= {"FILE_IN", "FILE_OUT", "IN"}
    assert wf.description(kernel, computing_units=4)["constraints"]["computing_units"] == 4
    assert wf.validate(json.loads(json.dumps(d))) == d


@pytest.mark.parametrize("path, value, field", [
    (("constraints", "computing_units"), 0, "constraints.computing_units"),
    (("parameters", "a"), "FILE_INN", "parameters.a"),
    (("execution", "type"), "shell", "execution.type"),
    (("execution", "bogus"), 1, "execution"),
])
def test_broken_description_is_rejected_naming_the_field(path, value, field):
    d = wf.description("gemm")
    d[path[0]][path[1]] = value
    with pytest.raises(wf.DescriptionError, match=f"field '{field}'"):
        wf.validate(d)
    d = wf.description("gemm")
    del d["constraints"]
    with pytest.raises(wf.DescriptionError, match="'constraints' is a required property"):
        wf.validate(d)


def test_unknown_description():
    with pytest.raises(ValueError, match="no workflow description for 'fft'; available: conv2d, gemm"):
        wf.description("fft")


def test_pycompss_guard_says_why():
    try:
        import pycompss  # noqa: F401
        pytest.skip("pycompss is installed here")
    except ImportError:
        pass
    assert not wf.PYCOMPSS_AVAILABLE and "pycompss is not importable" in wf.PYCOMPSS_REASON
    with pytest.raises(ImportError, match="hpc_kernels.workflow.compss.gemm is not defined: pycompss is not importable"):
        wf.compss.gemm
