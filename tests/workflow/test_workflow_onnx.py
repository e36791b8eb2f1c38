"""ONNX models as workflow steps: hpc_kernels.workflow.onnx_task, `python -m hpc_kernels run onnx` (results equal
onnxruntime's; the run command's one-line errors, exit statuses and atomic writes), its @software description,
and the demo's inference stage as an ONNX model."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("threadpoolctl", reason="threadpoolctl (test extra) not installed")

import hpc_kernels  # noqa: E402
import hpc_kernels.workflow as wf  # noqa: E402
from hpc_kernels.__main__ import main  # noqa: E402
from hpc_kernels.workflow import inference  # noqa: E402

from _helpers import run_python  # noqa: E402
from _onnx_tiny import tiny_model  # noqa: E402

RTOL = 1e-5  # one 27-term convolution and a 64-term mean in float32: a few roundings of the output's magnitude


@pytest.fixture
def files(tmp_path, rng):
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "x64.npy", x.astype(np.float64))
    np.save(tmp_path / "x2.npy", np.array([0.5], np.float32))
    np.save(tmp_path / "bad.npy", x[:, :2])
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    return tmp_path, x


def ort_run(model, feed, names=None):
    return ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(names, feed)


def close(got, ref):
    assert got.shape == ref.shape
    assert float(np.abs(got - ref).max()) <= RTOL * float(np.abs(ref).max())


def test_onnx_task_arrays_paths_sequences_and_dicts(files):
    p, x = files
    one, two = tiny_model(p / "one.onnx"), tiny_model(p / "two.onnx", inputs=2)
    (ref,) = ort_run(one, {"x": x})
    for given in (x, str(p / "x.npy"), [x], {"x": p / "x.npy"}):
        close(wf.onnx_task(one, given), ref)
    (ref2,) = ort_run(two, {"x": x, "x2": np.array([0.5], np.float32)})
    close(wf.onnx_task(two, {"x2": p / "x2.npy", "x": x}), ref2)
    close(wf.onnx_task(two, [p / "x.npy", p / "x2.npy"]), ref2)
    with open(one, "rb") as f:  # bytes, as the demo passes its model to the workers
        close(wf.onnx_task(f.read(), x), ref)


def test_onnx_task_outputs_and_out(files):
    p, x = files
    model = tiny_model(p / "m.onnx", outputs=2)
    y_ref, r_ref = ort_run(model, {"x": x})
    both = wf.onnx_task(model, x)
    assert set(both) == {"y", "r"}
    close(both["y"], y_ref)
    close(both["r"], r_ref)
    close(wf.onnx_task(model, x, outputs=["r"]), r_ref)
    assert wf.onnx_task(model, x, out=p / "y.npy") == str(p / "y.npy")  # the first output
    close(np.load(p / "y.npy"), y_ref)
    assert wf.onnx_task(model, x, out={"r": p / "r.npy"}) == {"r": str(p / "r.npy")}
    close(np.load(p / "r.npy"), r_ref)
    assert not [f for f in os.listdir(p) if f.startswith(".kernels-")]


def test_onnx_task_info_and_bound_threads(files, monkeypatch):
    p, x = files
    model = tiny_model(p / "m.onnx")
    monkeypatch.delenv("COMPSS_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    before = hpc_kernels.get_num_threads()
    _, info = wf.onnx_task(model, x, threads=8, info=True)  # more than the task owns
    assert info["kernel"] == "onnx" and info["backend"] == "cpu" and info["threads"] == 1
    assert info["threads_from"] == "OMP_NUM_THREADS" and info["seconds"] > 0
    assert hpc_kernels.get_num_threads() == before
    _, info = wf.onnx_task(model, x, backend="reference", info=True)
    assert info["backend"] == "reference"
    assert wf.TASKS["onnx"] is wf.onnx_task


def test_onnx_task_errors_name_what_is_wrong(files):
    p, x = files
    model, two = tiny_model(p / "m.onnx"), tiny_model(p / "two.onnx", inputs=2)
    with pytest.raises(FileNotFoundError, match="model file .*nope.onnx' does not exist"):
        wf.onnx_task(str(p / "nope.onnx"), x)
    with pytest.raises(FileNotFoundError, match="onnx: input 'x': input file .*missing.npy' does not exist"):
        wf.onnx_task(model, str(p / "missing.npy"))
    with pytest.raises(ValueError, match="the model has 2 inputs \\(x, x2\\)"):
        wf.onnx_task(two, x)
    with pytest.raises(ValueError, match="unknown input\\(s\\) 'z'"):
        wf.onnx_task(model, {"z": x})
    with pytest.raises(ValueError, match="missing input\\(s\\) 'x2'"):
        wf.onnx_task(two, {"x": x})
    with pytest.raises(ValueError, match="out names output\\(s\\) 'q'"):
        wf.onnx_task(model, x, out={"q": p / "q.npy"})
    with pytest.raises(FileNotFoundError, match="output directory"):
        wf.onnx_task(model, x, out=p / "nodir" / "y.npy")


def test_sessions_of_model_files_are_cached_until_the_file_changes(files):
    p, x = files
    path = tiny_model(p / "m.onnx")
    s1 = inference._session(path, None, "auto")
    assert inference._session(path, None, "auto") is s1
    assert inference._session(path, "reference", "auto") is not s1
    os.utime(path, ns=(0, 0))  # a rewritten file (its mtime changed): loaded again
    assert inference._session(path, None, "auto") is not s1


def _run(tmp_path, *args):
    return main(["run", "onnx", *[str(tmp_path / a) if a.endswith((".npy", ".onnx")) and "=" not in a else a for a in args]])


def test_run_onnx_step(files):
    p, x = files
    model = tiny_model(p / "m.onnx", inputs=2, outputs=2)
    y_ref, r_ref = ort_run(model, {"x": x, "x2": np.array([0.5], np.float32)})
    # plain files fill the inputs and outputs not named, in the model's order
    assert _run(p, "--model", "m.onnx", "--input", f"x2={p / 'x2.npy'}", "x.npy", "--output", "y.npy", f"r={p / 'r.npy'}") == 0
    close(np.load(p / "y.npy"), y_ref)
    close(np.load(p / "r.npy"), r_ref)
    os.remove(p / "y.npy")
    assert _run(p, "--model", "m.onnx", "--input", "x.npy", "--input", "x2.npy", "--output", f"r={p / 'r2.npy'}", "--threads", "1") == 0
    close(np.load(p / "r2.npy"), r_ref)
    assert not (p / "y.npy").exists()  # only the outputs asked for


@pytest.mark.parametrize("args, message", [
    (("--model", "junk.onnx", "--input", "x.npy"), "not a valid ONNX model"),
    (("--model", "nope.onnx", "--input", "x.npy"), "model file .*nope.onnx' does not exist"),
    (("--model", "m.onnx", "--input", "missing.npy"), "onnx: input 'x': input file .*missing.npy' does not exist"),
    (("--model", "m.onnx", "--input", "x64.npy"), "input 'x' has dtype float64"),
    (("--model", "m.onnx", "--input", "bad.npy"), "input 'x' has shape \\(2, 2, 8, 8\\)"),
    (("--model", "m.onnx", "--input", "x.npy", "x.npy"), "--input: 2 unnamed file\\(s\\) for 1 remaining name\\(s\\)"),
    (("--model", "m.onnx", "--input", "x.npy", "--threads", "0"), "number of threads must be >= 1"),
    (("--model", "m.onnx", "--input", "x.npy", "--threads", "two"), "--threads must be an integer"),
    (("--model", "m.onnx", "--input", "x.npy", "--backend", "nope"), "backend must be None or one of"),
])
def test_run_onnx_errors_exit_1_in_one_line_without_output(files, capsys, args, message):
    p, _ = files
    tiny_model(p / "m.onnx")
    assert _run(p, *args, "--output", "out.npy") == 1
    err = capsys.readouterr().err
    assert err.startswith("python -m hpc_kernels run onnx: error: ") and err.count("\n") == 1, err
    assert re.search(message, err), err
    assert not any(f.startswith("out") or f.startswith(".kernels-") for f in os.listdir(p))


def test_run_onnx_failure_keeps_an_existing_output_and_missing_folder(files, capsys):
    p, _ = files
    tiny_model(p / "m.onnx")
    np.save(p / "out.npy", np.zeros(3))
    assert _run(p, "--model", "m.onnx", "--input", "bad.npy", "--output", "out.npy") == 1
    np.testing.assert_array_equal(np.load(p / "out.npy"), np.zeros(3))
    assert _run(p, "--model", "m.onnx", "--input", "x.npy", "--output", "nodir/out.npy") == 1
    assert "output directory" in capsys.readouterr().err


def test_run_onnx_usage_errors_exit_2(files, capsys):
    p, _ = files
    with pytest.raises(SystemExit) as e:
        main(["run", "onnx", "--input", str(p / "x.npy"), "--output", str(p / "o.npy")])
    assert e.value.code == 2 and "--model" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["run", "onnx", "--model", "m.onnx", "--input", "x.npy", "--output", "o.npy", "--stride", "2"])
    assert e.value.code == 2 and "unrecognized arguments: --stride 2" in capsys.readouterr().err


def test_onnx_description_validates_and_runs_as_written(files):
    """The step a workflow manager runs: the description's binary and arguments, placeholders filled."""
    p, x = files
    d = wf.description("onnx")
    assert "onnx" in wf.names() and d["kernels"]["task"] == "hpc_kernels.workflow.onnx_task"
    assert d["parameters"] == {"model": "FILE_IN", "x": "FILE_IN", "y": "FILE_OUT"}
    assert wf.description("onnx", computing_units=4)["constraints"]["computing_units"] == 4
    model = tiny_model(p / "m.onnx")
    values = {"model": model, "x": str(p / "x.npy"), "y": str(p / "y.npy")}
    args = re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], d["execution"]["args"]).split()
    r = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, cwd=p)
    assert r.returncode == 0, r.stderr[-2000:]
    close(np.load(p / "y.npy"), ort_run(model, {"x": x})[0])


def test_real_command_one_line_exit_1(files):
    p, _ = files
    r = run_python(["-m", "hpc_kernels", "run", "onnx", "--model", str(p / "junk.onnx"), "--input", str(p / "x.npy"),
                    "--output", str(p / "o.npy")], {"SKBUILD_EDITABLE_VERBOSE": "0"})
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("python -m hpc_kernels run onnx: error: not a valid ONNX model")


def test_demo_cnn_as_onnx_equals_its_kernels(rng):
    """The demo's inference stage: the ONNX model of its CNN (onnx.helper, no torch) gives the scores of the
    direct kernel calls (float64 reference) and of onnxruntime; the stage falls back to the direct calls,
    saying why, where onnx is missing."""
    from hpc_kernels.demo import cli, stages

    params = stages.cnn_params(np.float32)
    model = stages.cnn_onnx(params)
    fields = rng.standard_normal((3, 1, 19, 23)).astype(np.float32)
    got = wf.onnx_task(model, fields)
    ref = stages.cnn(fields.astype(np.float64), {k: v.astype(np.float64) for k, v in params.items()}, backend="reference")
    assert got.shape == (3, 4) and float(np.abs(got - ref).max()) <= 1e-5 * float(np.abs(ref).max())
    close(got, ort_run(model, {"fields": fields})[0])
    value, info = cli._onnx_task("inference", model, fields)
    assert info["kernel"] == "inference" and np.array_equal(value, got)


def test_demo_without_onnx_calls_the_kernels(monkeypatch):
    from hpc_kernels.demo import cli, stages

    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` raises ImportError
    model, why = cli._onnx_model(stages.cnn_params(np.float32))
    assert model is None and "onnx is not installed" in why
