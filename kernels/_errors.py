"""Exceptions of the kernels package, and how the command line reports them."""
from __future__ import annotations

# What a command of `python -m hpc_kernels` reports as one line and exit status 1: files that cannot
# be read or written (OSError), bad files, shapes or options (ValueError, OverflowError), dtypes
# (TypeError), results too large for memory (MemoryError), a backend not installed (ImportError).
# Anything else is a bug and keeps its traceback (as these do with --debug).
USER_ERRORS = (OSError, ValueError, TypeError, OverflowError, MemoryError, ImportError)


def one_line(exc: BaseException) -> str:
    """The message of `exc` on one line: its first line (a pybind11 argument error goes on with the
    arguments' reprs, whole arrays included), else the exception's name."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] + (" [...]" if len(lines) > 1 else "") if lines else type(exc).__name__
    return f"out of memory: {text}" if isinstance(exc, MemoryError) else text


class BackendNotAvailable(ImportError):
    """A backend was asked for but cannot run here; the message says why, and which pip extra installs
    it only when its library is what is missing (installed=False): with the library there, pip
    cannot help (no OpenCL driver, no GPU), and the reason names what is missing instead."""

    def __init__(self, backend: str, reason: str, extra: str | None = None, installed: bool = False):
        if extra and installed:
            hint = f" (the Python packages of hpc-kernels[{extra}] are installed; what is missing is named above)"
        elif extra:
            hint = f"; install it with: pip install 'hpc-kernels[{extra}]'"
        else:
            hint = "; reinstall hpc-kernels with a C++17 compiler available (pip install --force-reinstall hpc-kernels)"
        super().__init__(f"backend {backend!r} is not available: {reason}{hint}", name=f"hpc_kernels.backends.{backend}")
        self.backend = backend
        self.reason = reason
        self.extra = extra
        self.installed = installed


class UnsupportedOperation(TypeError):
    """The chosen backend does not implement this operation or dtype."""
