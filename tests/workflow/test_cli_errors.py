"""`python -m hpc_kernels`: bad input files and bad numeric options end in one stderr line and exit 1
(never a traceback, never an allocation the file does not back), and a SIGTERM/SIGINT while the
output is written leaves no partial file."""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
from numpy.lib import format as npy_format

from hpc_kernels.__main__ import main
from hpc_kernels.workflow import arrays

from _helpers import run_python

# An editable dev install streams its rebuild check to stderr at import: not the command's output.
QUIET = {"SKBUILD_EDITABLE_VERBOSE": "0"}


def _header(path, shape, descr="<f4", data=b""):
    with open(path, "wb") as f:
        npy_format.write_array_header_1_0(f, {"descr": descr, "fortran_order": False, "shape": shape})
        f.write(data)


@pytest.fixture
def files(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((4, 3), np.float32))
    np.save(tmp_path / "b.npy", np.ones((3, 5), np.float32))
    np.save(tmp_path / "x.npy", np.ones((1, 2, 6, 6), np.float32))
    np.save(tmp_path / "w.npy", np.ones((3, 2, 3, 3), np.float32))
    good = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "empty.npy").write_bytes(b"")
    (tmp_path / "truncated.npy").write_bytes(good[:-5])
    (tmp_path / "header_only.npy").write_bytes(good[:128])
    (tmp_path / "longer.npy").write_bytes(good + b"\0" * 8)
    (tmp_path / "magic_only.npy").write_bytes(b"\x93NUMPY")
    (tmp_path / "text.npy").write_bytes(b"not an array at all\n")
    (tmp_path / "pickled.npy").write_bytes(pickle.dumps(np.ones(3)))
    _header(tmp_path / "huge.npy", (2**20, 2**20), data=b"\0" * 64)  # 2^40 elements claimed, 64 bytes held
    _header(tmp_path / "bad_shape.npy", (4, "x"))
    _header(tmp_path / "bad_dtype.npy", (4,), descr="<q99")
    np.save(tmp_path / "objects.npy", np.array([1, "a", None], dtype=object), allow_pickle=True)
    (tmp_path / "folder.npy").mkdir()
    return tmp_path


def _run(capsys, tmp_path, *args):
    rc = main(["run", *[str(tmp_path / a) if a.endswith(".npy") else a for a in args]])
    err = capsys.readouterr().err
    return rc, err


def _assert_one_line_error(rc, err, kernel, message):
    assert rc == 1, err
    assert err.startswith(f"python -m hpc_kernels run {kernel}: error: ") and err.count("\n") == 1, err
    assert message in err, err


def _no_output(tmp_path):
    return not any(f.startswith("out") or f.endswith(".part") for f in os.listdir(tmp_path))


@pytest.mark.parametrize("name, message", [
    ("empty.npy", "the file is empty"),
    ("truncated.npy", "4x3 float32 (48 bytes of data) but the file holds 43 bytes after it (truncated?)"),
    ("header_only.npy", "holds 0 bytes after it (truncated?)"),
    ("longer.npy", "(48 bytes of data) but the file holds 56 bytes after it"),
    ("huge.npy", "1048576x1048576 float32 (4398046511104 bytes of data) but the file holds 64 bytes"),
    ("magic_only.npy", "bad .npy header"),
    ("text.npy", "no .npy magic string: not a .npy file"),
    ("pickled.npy", "no .npy magic string: not a .npy file"),
    ("bad_shape.npy", "bad .npy header: shape is not valid"),
    ("bad_dtype.npy", "bad .npy header"),
    ("objects.npy", "dtype object holds Python objects, stored as a pickle, which is never loaded"),
    ("folder.npy", "Is a directory"),
])
def test_bad_input_file(files, capsys, name, message):
    rc, err = _run(capsys, files, "gemm", "--input", name, "b.npy", "--output", "out.npy")
    _assert_one_line_error(rc, err, "gemm", f"gemm: a: '{files / name}' is not a readable .npy array file (")
    assert message in err, err
    assert _no_output(files)


def test_header_checked_before_allocating(files, monkeypatch):
    """The file size is compared with the header before NumPy reads (and allocates) anything."""
    def no_load(*a, **k):
        raise AssertionError("np.load called on a file whose header does not match its size")

    monkeypatch.setattr(np, "load", no_load)
    for name in ("huge.npy", "truncated.npy", "objects.npy"):
        with pytest.raises(ValueError):
            arrays.read_npy(str(files / name))


def test_good_file_still_loads(files):
    np.testing.assert_array_equal(arrays.read_npy(str(files / "a.npy")), np.ones((4, 3), np.float32))
    np.save(files / "f.npy", np.asfortranarray(np.arange(12.0).reshape(3, 4)))
    np.testing.assert_array_equal(arrays.read_npy(str(files / "f.npy")), np.arange(12.0).reshape(3, 4))
    np.save(files / "empty_array.npy", np.zeros((0, 3), np.float32))
    assert arrays.read_npy(str(files / "empty_array.npy")).shape == (0, 3)


@pytest.mark.parametrize("options, message", [
    (["--padding", "99999999"], "out of memory: Unable to allocate"),  # a MemoryError of the output
    (["--stride", "9223372036854775808"], "--stride must be in [1, 2147483647], got 9223372036854775808"),
    (["--stride", "0"], "--stride must be in [1, 2147483647], got 0"),
    (["--stride", "1", "2", "3"], "--stride takes 1 or 2 integers, got 3"),
    (["--dilation", "two"], "--dilation must be an integer, got 'two'"),
    (["--dilation", "-1"], "--dilation must be in [1, 2147483647], got -1"),
    (["--groups", "0"], "--groups must be in [1, 2147483647], got 0"),
    (["--groups", "1.5"], "--groups must be an integer, got '1.5'"),
    (["--padding", "-1"], "--padding must be in [0, 2147483647], got -1"),
    (["--padding", "1", "2", "3"], "--padding takes 1 or 2 or 4 integers, got 3"),
    (["--padding", "2147483647"], "exceeds 2^63 bytes"),  # output larger than any address space
    (["--threads", "many"], "--threads must be an integer, got 'many'"),
    (["--threads", "-3"], "number of threads must be >= 1, got -3"),
])
def test_bad_numeric_option_conv2d(files, capsys, options, message):
    rc, err = _run(capsys, files, "conv2d", "--input", "x.npy", "w.npy", "--output", "out.npy", *options)
    _assert_one_line_error(rc, err, "conv2d", message)
    assert _no_output(files)


@pytest.mark.parametrize("options, message", [
    (["--alpha", "x"], "--alpha must be a number, got 'x'"),
    (["--beta", "1e"], "--beta must be a number, got '1e'"),
])
def test_bad_numeric_option_gemm(files, capsys, options, message):
    rc, err = _run(capsys, files, "gemm", "--input", "a.npy", "b.npy", "--output", "out.npy", *options)
    _assert_one_line_error(rc, err, "gemm", message)


def test_debug_shows_the_traceback(files):
    with pytest.raises(ValueError, match="the file is empty"):
        main(["--debug", "run", "gemm", "--input", str(files / "empty.npy"), str(files / "b.npy"), "--output",
              str(files / "out.npy")])


@pytest.mark.parametrize("exc", [MemoryError("Unable to allocate 4.00 TiB"), OverflowError("int too big"),
                                 ValueError("first line\nsecond line")])
def test_other_commands_report_errors_in_one_line(capsys, monkeypatch, exc):
    """Any command: an error of the kinds bad input causes is one line, exit 1 (here raised by info)."""
    info_module = sys.modules["hpc_kernels.info"]  # hpc_kernels.info is the function of that name

    def boom():
        raise exc

    monkeypatch.setattr(info_module, "info", boom)
    assert main(["info"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("python -m hpc_kernels info: error: ") and err.count("\n") == 1, err
    with pytest.raises(type(exc)):
        main(["--debug", "info"])


@pytest.mark.parametrize("argv", [["bench", "gemm", "--threads", "100000"], ["tune", "conv2d", "--threads", "100000"]])
def test_thread_counts_beyond_the_bound_are_usage_errors(capsys, argv):
    """bench and tune check their thread counts before measuring anything."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert "argument --threads: must be at most" in capsys.readouterr().err


@pytest.mark.parametrize("args", [
    ["gemm", "--input", "empty.npy", "b.npy"],
    ["gemm", "--input", "huge.npy", "b.npy"],
    ["gemm", "--input", "objects.npy", "b.npy"],
    ["conv2d", "--input", "x.npy", "w.npy", "--padding", "99999999"],
    ["conv2d", "--input", "x.npy", "w.npy", "--stride", "9223372036854775808"],
])
def test_real_command_one_line_exit_1(files, args):
    argv = ["-m", "hpc_kernels", "run", *[str(files / a) if a.endswith(".npy") else a for a in args], "--output", str(files / "o.npy")]
    p = run_python(argv, QUIET)
    assert p.returncode == 1, p.stderr
    assert p.stderr.count("\n") == 1 and p.stderr.startswith(f"python -m hpc_kernels run {args[0]}: error: "), p.stderr
    assert _no_output(files)


# --------------------------------------------------------------------------------------------
# Signals while the output is written
# --------------------------------------------------------------------------------------------

def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a background test runner may start children with SIGINT ignored


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_during_write_leaves_no_partial_file(tmp_path, sig):
    """The signal is sent as soon as the partial file appears (polled), i.e. during the write of a
    64 MiB output (a k = 1 product: the computation is short, the write is not). A run where the
    write finished first is retried; every run must leave no .part file, and one that was
    interrupted ends with 128 + signal and no output."""
    n = 4096
    np.save(tmp_path / "a.npy", np.ones((n, 1), np.float32))
    np.save(tmp_path / "b.npy", np.ones((1, n), np.float32))
    out = tmp_path / "out.npy"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERNELS_")}
    env.update(QUIET)
    cmd = [sys.executable, "-m", "hpc_kernels", "run", "gemm", "--input", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"),
           "--output", str(out)]
    interrupted = 0
    for _ in range(8):
        p = subprocess.Popen(cmd, env=env, cwd=tempfile.gettempdir(), stderr=subprocess.PIPE, text=True,
                             preexec_fn=_default_sigint)
        sent = False
        deadline = time.monotonic() + 120
        while p.poll() is None and time.monotonic() < deadline:
            if any(f.endswith(".npy.part") for f in os.listdir(tmp_path)):
                p.send_signal(sig)
                sent = True
                break
        p.wait(120)
        stderr = p.stderr.read()
        p.stderr.close()
        assert not [f for f in os.listdir(tmp_path) if f.endswith(".part")], (p.returncode, stderr)
        assert "Traceback" not in stderr, stderr
        if sent and p.returncode == 128 + sig:
            assert not out.exists() or np.load(out).shape == (n, n)  # a signal after the rename: whole file
            interrupted += 1
            if not out.exists():
                break
        else:
            assert p.returncode == 0, stderr
        if out.exists():
            out.unlink()
    assert interrupted, "the signal never arrived during the write (the write finished first every time)"


def test_handlers_only_where_enabled_and_restored(tmp_path):
    """save_atomic changes no signal handler unless the command line enabled it, and restores them."""
    before = signal.getsignal(signal.SIGTERM)
    arrays.save_atomic(tmp_path / "x.npy", np.ones(3))
    assert signal.getsignal(signal.SIGTERM) is before
    seen = {}
    real_save = np.save

    def spy(*a, **k):
        seen["handler"] = signal.getsignal(signal.SIGTERM)
        return real_save(*a, **k)

    arrays.remove_partial_files_on_signals()
    try:
        np.save = spy
        arrays.save_atomic(tmp_path / "y.npy", np.ones(3))
    finally:
        np.save = real_save
        arrays.remove_partial_files_on_signals(False)
    assert seen["handler"] is arrays._on_signal
    assert signal.getsignal(signal.SIGTERM) is before
    assert not arrays._partial and sorted(os.listdir(tmp_path)) == ["x.npy", "y.npy"]
