"""Task operands: arrays or .npy paths in, arrays or atomically written .npy files out."""
from __future__ import annotations

import os
import tempfile
from typing import Any, Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]


def is_path(x: Any) -> bool:
    return isinstance(x, (str, os.PathLike))


def aligned(x: Any) -> Any:
    """Arrays received over the network (a Dask worker's task arguments) can sit at any byte
    offset of a message frame; the cpu engine needs element-aligned data, so such an array is
    copied once (aligned ones, and anything that is not a NumPy array, pass as they are)."""
    return np.require(x, requirements="A") if isinstance(x, np.ndarray) and not x.flags.aligned else x


def load(name: str, x: Any) -> Any:
    """An operand as given (aligned), or the array of a .npy file; clear errors for missing or
    unreadable files."""
    if not is_path(x):
        return aligned(x)
    path = os.fspath(x)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{name}: input file {path!r} does not exist")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{name}: {path!r} is not a readable .npy array file ({exc})") from None


def save_atomic(path: PathLike, array: np.ndarray) -> str:
    """Write `array` to `path` as .npy through a temporary file in the same directory and a
    rename: readers (and a workflow runtime checking its FILE_OUT) see the old file or the whole
    new one, never half of it, and a failure leaves no file behind."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"output directory {directory!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".kernels-", suffix=".npy.part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, np.asarray(array), allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path
