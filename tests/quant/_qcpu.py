"""Whether this build's cpu backend has the int8 engine (the int8 tests' engines depend on it)."""
from __future__ import annotations

from hpc_kernels._dispatch import _load

_CPU = _load("cpu")
CPU_INT8 = _CPU.available and "qgemm" in _CPU.ops
