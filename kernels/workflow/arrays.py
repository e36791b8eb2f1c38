"""Task operands: arrays or .npy paths in, arrays or atomically written .npy files out."""
from __future__ import annotations

import math
import os
import secrets
import signal
import sys
import threading
from typing import Any, Optional, Set, Tuple, Union

import numpy as np
from numpy.lib import format as npy_format

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
    if not os.path.exists(path):
        raise FileNotFoundError(f"{name}: input file {path!r} does not exist")
    try:
        return read_npy(path)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{name}: {path!r} is not a readable .npy array file ({exc})") from None


# Exceptions NumPy's header parser lets through for malformed headers (it evaluates a Python literal).
_HEADER_ERRORS = (ValueError, TypeError, SyntaxError, OverflowError, RecursionError, MemoryError, UnicodeDecodeError)


def _npy_header(f) -> Tuple[Tuple[int, ...], np.dtype]:
    """(shape, dtype) of the .npy file open at its start; ValueError for anything that is not a header."""
    if f.read(len(npy_format.MAGIC_PREFIX)) != npy_format.MAGIC_PREFIX:
        raise ValueError("no .npy magic string: not a .npy file")
    f.seek(0)
    try:
        version = npy_format.read_magic(f)
    except ValueError as exc:  # the file ends within the magic string and version
        raise ValueError(f"bad .npy header: {exc}") from None
    if version == (1, 0):
        read = npy_format.read_array_header_1_0
    elif version in ((2, 0), (3, 0)):  # 3.0 only allows UTF-8 field names: the sizes read the same
        read = npy_format.read_array_header_2_0
    else:
        raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
    try:
        shape, _, dtype = read(f)
    except _HEADER_ERRORS as exc:
        raise ValueError(f"bad .npy header: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    return shape, dtype


def read_npy(path: str) -> np.ndarray:
    """The array of a .npy file, its header checked before anything is allocated: the data must be
    exactly the bytes the header describes (an empty or truncated file, or a header claiming 2^40
    elements in a small file, is a ValueError, not an allocation), and arrays of Python objects
    are refused: they are pickles, never loaded (allow_pickle=False)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise ValueError("the file is empty")
        shape, dtype = _npy_header(f)
        if dtype.hasobject:
            raise ValueError(f"dtype {dtype} holds Python objects, stored as a pickle, which is never loaded")
        want = math.prod(shape) * dtype.itemsize  # Python ints: no overflow whatever the header claims
        have = size - f.tell()
        if have != want:
            raise ValueError(
                f"the header describes {'x'.join(map(str, shape)) or 'a scalar'} {dtype} ({want} bytes of data) but "
                f"the file holds {have} bytes after it{' (truncated?)' if have < want else ''}"
            )
        f.seek(0)
        try:
            return np.load(f, allow_pickle=False)
        except EOFError as exc:  # the file shrank since the check
            raise ValueError(str(exc)) from None


# Partial outputs (.kernels-*.npy.part) being written now, and whether SIGTERM/SIGINT remove them.
_partial: Set[str] = set()
_signals = {"enabled": False}
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def remove_partial_files_on_signals(enabled: bool = True) -> None:
    """For a process of its own (the command line): while save_atomic writes, SIGTERM and SIGINT
    remove the partial file and exit with status 128 + signal number. The handlers are installed
    only around the write, so a signal during the computation still ends the process at once (a
    Python handler would wait for the kernel to return). Library callers keep their own handling."""
    _signals["enabled"] = enabled


def _unlink(path: str) -> None:
    """Remove a partial file if it is there; never raises (a cleanup must not hide the error
    that caused it)."""
    try:
        os.unlink(path)
    except OSError:
        pass


def _on_signal(signum, frame) -> None:
    for tmp in list(_partial):
        _unlink(tmp)
    # The process ends here rather than by raising SystemExit: an exception raised in a handler
    # surfaces wherever the main thread is, and inside np.save that can be ndarray.tofile's own
    # call back into Python, whose failure NumPy answers by retrying with the file object taken
    # for a path: the exit became "TypeError: expected str, bytes or os.PathLike object, not
    # BufferedWriter" and status 1 (seen in 1 run of ~5 under SIGINT). Streams flushed first.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a closed or broken stream must not keep the process alive
            pass
    os._exit(128 + signum)


class _SignalsRemovePartial:
    """Installs _on_signal for SIGTERM/SIGINT for the block, where enabled and possible (only the
    main thread may set handlers), and restores the previous handlers after it."""

    def __enter__(self) -> None:
        self.old = {}
        if _signals["enabled"] and threading.current_thread() is threading.main_thread():
            for s in _SIGNALS:
                if signal.getsignal(s) is not signal.SIG_IGN:  # an ignored signal stays ignored (nohup, cmd &)
                    self.old[s] = signal.signal(s, _on_signal)

    def __exit__(self, *exc) -> None:
        for s, h in self.old.items():
            signal.signal(s, h)


def save_atomic(path: PathLike, array: np.ndarray) -> str:
    """Write `array` to `path` as .npy through a temporary file in the same directory and a
    rename: readers (and a workflow runtime checking its FILE_OUT) see the old file or the whole
    new one, never half of it, and a failure leaves no file behind (nor, in the command line, a
    SIGTERM or SIGINT: see remove_partial_files_on_signals)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"output directory {directory!r} does not exist")
    tmp: Optional[str] = None
    with _SignalsRemovePartial():
        try:
            while True:
                # Registered in _partial before the file exists, so a signal arriving at any point
                # finds it (tempfile.mkstemp would name it only once it exists).
                tmp = os.path.join(directory, f".kernels-{secrets.token_hex(8)}.npy.part")
                _partial.add(tmp)
                try:
                    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
                    break
                except FileExistsError:  # another writer's file (odds 2^-64): not ours to remove
                    _partial.discard(tmp)
                    tmp = None
            with os.fdopen(fd, "wb") as f:
                np.save(f, np.asarray(array), allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if tmp is not None:
                _unlink(tmp)
            raise
        finally:
            if tmp is not None:
                _partial.discard(tmp)
    return path
