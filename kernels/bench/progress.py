"""Progress bar of a benchmark run (tqdm, on a terminal only) and the printing of result lines around it.

Every benchmark module prints its lines through `emit` and counts its cases with `tick`; the
driver opens one `bar` for the whole run. Without a terminal on stderr (CI logs, pipes) or without
tqdm there is no bar and `emit` is a plain print, so logs stay line-oriented.
"""
from __future__ import annotations

import contextlib
import sys
from typing import Any, Iterator, Optional, TextIO

_bar: Any = None  # the open tqdm bar, if any (one per process: a nested bar would garble the terminal)


def wanted(stream: Optional[TextIO] = None) -> bool:
    """A bar only on a terminal, and only when tqdm is installed (the bench extra)."""
    stream = stream if stream is not None else sys.stderr
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@contextlib.contextmanager
def bar(total: Optional[int], desc: str, stream: Optional[TextIO] = None) -> Iterator[Any]:
    """Yields the tqdm bar, or None when there is none (not a terminal, no tqdm, a bar already open)."""
    global _bar
    if _bar is not None or not wanted(stream):
        yield None
        return
    from tqdm import tqdm

    _bar = tqdm(total=total, desc=desc, unit="case", file=stream if stream is not None else sys.stderr, leave=False,
                dynamic_ncols=True)
    try:
        yield _bar
    finally:
        _bar.close()
        _bar = None


def emit(line: str) -> None:
    """Print a result line (above the bar when one is open: tqdm.write keeps the bar at the bottom)."""
    if _bar is None:
        print(line, flush=True)
    else:
        _bar.write(line, file=sys.stdout)


def tick(label: str = "", n: int = 1) -> None:
    """One more case done; `label` says what runs now."""
    if _bar is not None:
        if label:
            _bar.set_postfix_str(label, refresh=False)
        _bar.update(n)
