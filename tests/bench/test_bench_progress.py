"""The benchmark progress bar: only on a terminal; result lines print either way."""
from __future__ import annotations

import io

import pytest

from hpc_kernels.bench import progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_bar_when_not_a_tty(capsys):
    stream = io.StringIO()
    assert not progress.wanted(stream)
    with progress.bar(3, "bench", stream) as b:
        assert b is None
        progress.emit("a result line")
        progress.tick("case")
    assert stream.getvalue() == "" and capsys.readouterr().out == "a result line\n"


def test_bar_on_a_tty(capsys):
    pytest.importorskip("tqdm")
    stream = _Tty()
    assert progress.wanted(stream)
    with progress.bar(2, "bench", stream) as b:
        assert b is not None
        with progress.bar(5, "nested", stream) as inner:
            assert inner is None  # one bar per run
        progress.emit("line above the bar")
        progress.tick("first")
        assert b.n == 1
    assert progress._bar is None and "bench" in stream.getvalue()
    assert "line above the bar" in capsys.readouterr().out
