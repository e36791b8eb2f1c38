"""`python -m hpc_kernels run gemm|conv2d`: results equal the direct calls; every error path exits
non-zero with a one-line message and leaves no output file (not even a partial one)."""
from __future__ import annotations

import os
import re

import numpy as np
import pytest

import hpc_kernels
from hpc_kernels.__main__ import main

from _helpers import run_python

pytest.importorskip("threadpoolctl", reason="threadpoolctl (test extra) not installed")


@pytest.fixture
def files(tmp_path, rng):
    arrays = {
        "a": rng.standard_normal((40, 30)).astype(np.float32),
        "b": rng.standard_normal((30, 20)).astype(np.float32),
        "c": rng.standard_normal((40, 20)).astype(np.float32),
        "b64": rng.standard_normal((30, 20)),
        "bad": rng.standard_normal((29, 20)).astype(np.float32),
        "x": rng.standard_normal((2, 3, 10, 10)).astype(np.float32),
        "w": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
        "bias": rng.standard_normal(4).astype(np.float32),
        "i32": np.ones((40, 30), np.int32),
    }
    for k, v in arrays.items():
        np.save(tmp_path / f"{k}.npy", v)
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY garbage")
    return tmp_path, arrays


def _run(tmp_path, *args):
    return main(["run", *[str(tmp_path / a) if a.endswith(".npy") else a for a in args]])


def test_gemm_step(files):
    p, arr = files
    assert _run(p, "gemm", "--input", "a.npy", "b.npy", "c.npy", "--output", "out.npy", "--alpha", "2", "--beta", "0.5") == 0
    np.testing.assert_array_equal(np.load(p / "out.npy"), hpc_kernels.gemm(arr["a"], arr["b"], arr["c"].copy(), alpha=2.0, beta=0.5))


def test_conv2d_step(files):
    p, arr = files
    assert _run(p, "conv2d", "--input", "x.npy", "w.npy", "bias.npy", "--output", "y.npy", "--padding", "same",
                "--stride", "1", "--activation", "relu", "--threads", "1") == 0
    want = hpc_kernels.conv2d(arr["x"], arr["w"], arr["bias"], padding="same", activation="relu")
    np.testing.assert_array_equal(np.load(p / "y.npy"), want)
    assert _run(p, "conv2d", "--input", "x.npy", "w.npy", "--output", "y2.npy", "--padding", "1", "0", "--stride", "2", "1") == 0
    np.testing.assert_array_equal(np.load(p / "y2.npy"), hpc_kernels.conv2d(arr["x"], arr["w"], padding=(1, 0), stride=(2, 1)))


@pytest.mark.parametrize("args, message", [
    (("gemm", "--input", "a.npy", "missing.npy"), "input file .*missing.npy' does not exist"),
    (("gemm", "--input", "a.npy", "junk.npy"), "junk.npy' is not a readable .npy array file"),
    (("gemm", "--input", "a.npy", "bad.npy"), "gemm: shapes \\(40, 30\\) and \\(29, 20\\) do not agree"),
    (("gemm", "--input", "a.npy", "b64.npy"), "gemm: a and b must have the same dtype, got float32 and float64"),
    (("gemm", "--input", "i32.npy", "b.npy"), "gemm: a has dtype int32; allowed dtypes are float32 and float64"),
    (("gemm", "--input", "a.npy", "b.npy", "--backend", "nope"), "unknown backend 'nope'"),
    (("conv2d", "--input", "x.npy", "a.npy"), "conv2d: w must be 4-D"),
    (("conv2d", "--input", "x.npy", "w.npy", "--padding", "wide"), "--padding must be integers, 'same' or 'valid'"),
    (("gemm", "--input", "a.npy", "b.npy", "--threads", "0"), "number of threads must be >= 1"),
])
def test_errors_exit_nonzero_without_output(files, capsys, args, message):
    p, _ = files
    assert _run(p, *args, "--output", "out.npy") == 1
    err = capsys.readouterr().err
    assert err.startswith(f"python -m hpc_kernels run {args[0]}: error: ") and err.count("\n") == 1
    assert re.search(message, err), err
    assert not any(f.startswith("out") or f.startswith(".kernels-") for f in os.listdir(p))


def test_wrong_number_of_inputs_is_a_usage_error(files, capsys):
    p, _ = files
    assert _run(p, "gemm", "--input", "a.npy", "--output", "out.npy") == 2
    assert "expected --input a.npy b.npy [c.npy], got 1 file(s)" in capsys.readouterr().err
    assert not (p / "out.npy").exists()


def test_output_directory_missing(files, capsys):
    p, _ = files
    assert _run(p, "gemm", "--input", "a.npy", "b.npy", "--output", "nodir/out.npy") == 1
    assert "output directory" in capsys.readouterr().err


def test_failed_run_keeps_an_existing_output(files):
    p, _ = files
    np.save(p / "out.npy", np.zeros(3))
    assert _run(p, "gemm", "--input", "a.npy", "bad.npy", "--output", "out.npy") == 1
    np.testing.assert_array_equal(np.load(p / "out.npy"), np.zeros(3))  # the old file, untouched


def test_exit_codes_of_the_real_command(files):
    p, arr = files
    ok = run_python(["-m", "hpc_kernels", "run", "gemm", "--input", str(p / "a.npy"), str(p / "b.npy"), "--output", str(p / "o.npy")])
    assert ok.returncode == 0, ok.stderr
    np.testing.assert_array_equal(np.load(p / "o.npy"), hpc_kernels.gemm(arr["a"], arr["b"]))
    bad = run_python(["-m", "hpc_kernels", "run", "gemm", "--input", str(p / "a.npy"), str(p / "nope.npy"), "--output", str(p / "o2.npy")])
    assert bad.returncode == 1 and "does not exist" in bad.stderr and "Traceback" not in bad.stderr
    assert not (p / "o2.npy").exists()
