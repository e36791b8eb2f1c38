"""Usage of the command line: each `run` kernel takes only its own options, counts that cannot work
are usage errors, `--version` and every `--help` say what they should, and the `hpc-kernels`
console script names itself."""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest

import hpc_kernels
from hpc_kernels.__main__ import build_parser, main

QUIET = {"SKBUILD_EDITABLE_VERBOSE": "0"}  # an editable install's rebuild check is not the command's output


def _usage_error(capsys, argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("kernel, option", [
    ("gemm", ["--activation", "relu"]), ("gemm", ["--stride", "2"]), ("gemm", ["--layout", "NHWC"]),
    ("conv2d", ["--alpha", "3"]), ("conv2d", ["--trans-a"]), ("conv2d", ["--beta", "1"]),
])
def test_run_rejects_the_other_kernels_options(tmp_path, capsys, kernel, option):
    """Before: exit 0, the option silently ignored. Now: a usage error of that subcommand."""
    err = _usage_error(capsys, ["run", kernel, "--input", "a.npy", "b.npy", "--output", str(tmp_path / "o.npy"), *option])
    assert f"python -m hpc_kernels run {kernel}: error: unrecognized arguments: {' '.join(option)}" in err, err
    assert err.startswith(f"usage: python -m hpc_kernels run {kernel} "), err  # the subcommand's usage, not the top level's
    assert not (tmp_path / "o.npy").exists()


@pytest.mark.parametrize("argv", [["demo", "--workers", "0"], ["demo", "--workers", "-2"],
                                  ["demo", "--threads-per-worker", "0"], ["demo", "--batch", "0"]])
def test_demo_counts_below_one_are_usage_errors(capsys, argv):
    """Before: `demo --workers 0` started a cluster with no worker and waited for its first task forever."""
    err = _usage_error(capsys, argv)
    assert f"argument {argv[1]}: must be >= 1, got {argv[2]}" in err, err


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"python -m hpc_kernels {hpc_kernels.__version__}"


def _parsers(parser, path=()):
    """(command path, parser) for the parser and every subcommand's below it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, path + (name,))


def test_every_help_shows_choices_and_defaults():
    """Each option of each `--help` has a help text; its choices are listed and its default is
    stated (by the formatter, or in the help's own words) unless it has none (None, a flag)."""
    checked = 0
    for path, parser in _parsers(build_parser()):
        text = " ".join(parser.format_help().split())  # unwrapped
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
                continue
            where = f"{' '.join(path) or '(top)'} {action.option_strings or action.dest}"
            assert action.help, f"{where}: no help text"
            for choice in action.choices or ():
                assert str(choice) in text, f"{where}: choice {choice!r} not in --help"
            if action.default not in (None, False) and "default" not in action.help:
                shown = " ".join(map(str, action.default)) if isinstance(action.default, list) else str(action.default)
                assert f"(default: {shown})" in text, f"{where}: default {shown!r} not in --help"
            checked += 1
    assert checked > 40


def _console_script():
    exe = shutil.which("hpc-kernels", path=os.path.dirname(sys.executable))
    if exe is None:
        pytest.skip("the hpc-kernels console script is not installed beside this interpreter")
    return exe


def test_console_script_names_itself(tmp_path):
    """Before: `hpc-kernels ...` printed usage lines and errors as `python -m hpc_kernels`."""
    exe = _console_script()
    env = {**os.environ, **QUIET}
    np.save(tmp_path / "a.npy", np.ones((2, 3), np.float32))

    def run(*args):
        return subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=120, cwd=tempfile.gettempdir())

    v = run("--version")
    assert v.returncode == 0 and v.stdout.strip() == f"hpc-kernels {hpc_kernels.__version__}", v
    usage = run("run", "gemm", "--activation", "relu", "--input", "a.npy", "b.npy", "--output", "o.npy")
    assert usage.returncode == 2 and usage.stderr.startswith("usage: hpc-kernels run gemm "), usage.stderr
    assert "hpc-kernels run gemm: error: unrecognized arguments: --activation relu" in usage.stderr, usage.stderr
    missing = run("run", "gemm", "--input", str(tmp_path / "a.npy"), str(tmp_path / "no.npy"), "--output", str(tmp_path / "o.npy"))
    assert missing.returncode == 1 and missing.stderr.startswith("hpc-kernels run gemm: error: "), missing.stderr
    assert missing.stderr.count("\n") == 1 and "does not exist" in missing.stderr, missing.stderr


@pytest.mark.parametrize("argv0, want", [("/venv/lib/hpc_kernels/__main__.py", "python -m hpc_kernels bench gemm --quick"),
                                         ("/venv/bin/hpc-kernels", "hpc-kernels bench gemm --quick"),
                                         ("/venv/bin/pytest", None)])
def test_bench_results_record_the_command_as_typed(monkeypatch, argv0, want):
    """A results file's "command" (shown in the report) names the console script when it ran (before: None)."""
    from hpc_kernels.bench import meta

    monkeypatch.setattr(sys, "argv", [argv0, "bench", "gemm", "--quick"])
    assert meta._command() == want
