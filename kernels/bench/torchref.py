"""PyTorch as a benchmark reference: imported only when installed and wanted, its threads set per run."""
from __future__ import annotations

import contextlib
from typing import Any, Iterator, Optional, Tuple


def load(wanted: bool = True) -> Tuple[Optional[Any], Optional[Any]]:
    """(torch, torch.nn.functional), or (None, None) when torch is not installed or not wanted (--no-torch)."""
    if not wanted:
        return None, None
    try:
        import torch
        import torch.nn.functional as F  # noqa: N812
    except ImportError:
        return None, None
    return torch, F


@contextlib.contextmanager
def threads(torch: Any, n: int) -> Iterator[None]:
    """torch.set_num_threads(n) and inference mode for the block; the old count restored after."""
    if torch is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with torch.inference_mode():
            yield
    finally:
        torch.set_num_threads(old)
