"""The precision= option of gemm, matmul and conv2d: "exact" (default) or "tf32", a permission the cuda backend's tensor cores may use for float32 (others compute exact float32)."""
from __future__ import annotations

import contextlib
import contextvars
from typing import Iterator, Optional

PRECISIONS = ("exact", "tf32")
_current: contextvars.ContextVar[str] = contextvars.ContextVar("kernels_precision", default="exact")


def check(fn: str, precision: Optional[str]) -> str:
    if precision is None:
        return "exact"
    if precision not in PRECISIONS:
        raise ValueError(f"{fn}: precision must be 'exact' or 'tf32', got {precision!r}")
    return precision


def current() -> str:
    """The precision of the running call (read by the backends that honour it)."""
    return _current.get()


@contextlib.contextmanager
def use(fn: str, precision: Optional[str]) -> Iterator[None]:
    token = _current.set(check(fn, precision))
    try:
        yield
    finally:
        _current.reset(token)
