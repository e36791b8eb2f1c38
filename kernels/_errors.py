"""Exceptions of the kernels package."""
from __future__ import annotations


class BackendNotAvailable(ImportError):
    """A backend was asked for but cannot run here; the message says why and which pip extra installs it."""

    def __init__(self, backend: str, reason: str, extra: str | None = None):
        hint = (
            f"; install it with: pip install 'hpc-kernels[{extra}]'"
            if extra
            else "; reinstall hpc-kernels with a C++17 compiler available (pip install --force-reinstall hpc-kernels)"
        )
        super().__init__(f"backend {backend!r} is not available: {reason}{hint}", name=f"kernels.backends.{backend}")
        self.backend = backend
        self.reason = reason
        self.extra = extra


class UnsupportedOperation(TypeError):
    """The chosen backend does not implement this operation or dtype."""
