"""The backend interface: what a backend declares (ops, dtypes, array types, availability, the
conv2d algorithms it implements) and what it decides (whether it takes a call, what "auto" means
for a layer), plus matmul's promotion of 1-D operands that host backends wrap around their kernels.

The dispatcher (kernels/_dispatch.py) knows no backend: it asks each one, in registry order,
whether it can and should run a call (networkx's can_run/should_run); the front end
(kernels/_api/conv.py) passes the requested algorithm and the backend resolves it
(choose_algorithm). See CONTRIBUTING.md, "Add a backend".
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar, Dict, FrozenSet, Optional

import numpy as np

from .._api.conv_args import ConvShape, ConvSpec, pointwise, winograd_layer
from .._validation import check_output_dtype_shape, matmul_shape, same_dtype


class Backend:
    name: str = ""
    extra: Optional[str] = None  # pip extra that installs what the backend needs (None: the core package)
    ops: FrozenSet[str] = frozenset()
    dtypes: FrozenSet[str] = frozenset({"float32", "float64"})
    array_types: tuple = (np.ndarray,)
    available: bool = True
    reason: str = "available"
    # Whether the library of `extra` imports: when it does and the backend is still unavailable, the
    # device or its driver is missing, and BackendNotAvailable does not tell the user to pip install.
    installed: bool = True
    # The conv2d algorithms this backend implements, each with the kernel that runs it (a subset of
    # hpc_kernels._api.conv_args.ALGORITHMS, which also holds "auto"); a backend without conv2d: {}.
    algorithms: ClassVar[Dict[str, str]] = {}
    auto: str = ""  # what "auto" picks, in one line (info() and the docs show it)

    # DLPack device types (kDLCUDA = 2, ...) of other libraries' arrays that this backend reads once
    # from_dlpack made them its own array type, zero-copy (a torch CUDA tensor for the cuda backend).
    # CPU memory (kDLCPU) is the front end's: kernels/_arrays.py views it as NumPy for host backends.
    dlpack_devices: FrozenSet[int] = frozenset()

    def accepts(self, x: Any) -> bool:
        return isinstance(x, self.array_types)

    def from_dlpack(self, x: Any) -> Any:
        """x (a DLPack object on one of dlpack_devices) as this backend's array, sharing its memory."""
        raise NotImplementedError(f"backend {self.name!r} reads no DLPack device")

    # -- does it take a call ------------------------------------------------------------------
    def can_run(self, op: str, x: Any) -> bool:
        """Whether this backend can run `op` here on first operand `x`: it is available,
        implements op and takes x's array type."""
        return self.available and op in self.ops and self.accepts(x)

    def should_run(self, op: str, x: Any) -> bool:
        """Whether it wants a call nobody named a backend for (backend=, use_backend(),
        KERNELS_BACKEND): the dispatcher gives it to the first backend in registry order that
        can and should run it. Asked once per op and array type (the answer is cached), so it
        may depend on x's type only. Backends that must be asked for by name say False."""
        return True

    # -- which conv2d algorithm -----------------------------------------------------------------
    def check_algorithm(self, fn: str, requested: str) -> None:
        """ValueError unless this backend implements `requested` ("auto" always passes); the
        name itself was checked against every backend's names by the front end."""
        if requested != "auto" and requested not in self.algorithms:
            raise ValueError(f"{fn}: the {self.name} backend does not implement algorithm {requested!r}; "
                             f"it implements {', '.join(map(repr, sorted(self.algorithms)))} and 'auto'")

    def choose_algorithm(self, shape: ConvShape, spec: ConvSpec, dtype: np.dtype, requested: str, *,
                         fn: str = "conv2d") -> str:
        """The algorithm that runs this layer here: "auto" resolved by this backend's own rule
        (auto_algorithm), any other name checked (implemented here; "gemm" needs a 1x1 stride-1
        unpadded layer, "winograd" a 3x3 stride-1 undilated single-group one) and mapped to the kernel that really runs it (run_algorithm)."""
        if requested == "auto":
            return self.auto_algorithm(shape, spec, dtype)
        self.check_algorithm(fn, requested)
        if requested == "gemm" and not pointwise(shape, spec):
            raise ValueError(f"{fn}: algorithm 'gemm' needs a 1x1 kernel, stride 1 and no padding")
        if requested == "winograd" and not winograd_layer(shape, spec):
            raise ValueError(f"{fn}: algorithm 'winograd' needs a 3x3 kernel, stride 1, dilation 1 and groups=1")
        return self.run_algorithm(shape, spec, requested)

    def auto_algorithm(self, shape: ConvShape, spec: ConvSpec, dtype: np.dtype) -> str:
        raise NotImplementedError(f"backend {self.name!r} implements conv2d but says nothing about algorithm='auto'")

    def run_algorithm(self, shape: ConvShape, spec: ConvSpec, requested: str) -> str:
        """The algorithm whose kernel runs when `requested` is asked for (a backend that runs one
        kernel for several names says which)."""
        return requested

    def describe(self) -> dict:
        return {
            "name": self.name,
            "available": self.available,
            "reason": self.reason,
            "ops": sorted(self.ops),
            "dtypes": sorted(self.dtypes),
            "array_types": [f"{t.__module__}.{t.__qualname__}" for t in self.array_types],
            "extra": self.extra,
            "installed": self.installed,
            "algorithms": dict(self.algorithms),
            "auto": self.auto,
        }


def promote_matmul(core: Callable[[Any, Any, Any], Any], a: Any, b: Any, out: Any) -> Any:
    """NumPy's rules for operands with fewer than 2 dimensions around a `core` that takes >= 2-D
    operands: scalars are an error; a (k,) -> (1, k) and b (k,) -> (k, 1), the added axes dropped
    from the result (and viewed into `out`, which has the final shape).

    The checks run in the order of the cpu backend's C++ entry (csrc/bindings/gemm_entry.cpp), so
    that a call with two bad arguments fails the same way on every backend: out's kind, then the
    operands' dtypes and shapes, then out's dtype and shape (the core checks the rest)."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: scalar operands are not allowed, use '*' instead")
    if out is not None and not isinstance(out, np.ndarray):
        raise TypeError(f"matmul: out must be a numpy.ndarray, got {type(out).__name__}")
    if a.ndim >= 2 and b.ndim >= 2:
        return core(a, b, out)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    out2 = out
    if out is not None:
        dt = same_dtype("matmul", a2, b2)
        shape = matmul_shape(a2, b2)
        want = shape[:-2] + ((shape[-2],) if a.ndim > 1 else ()) + ((shape[-1],) if b.ndim > 1 else ())
        check_output_dtype_shape("matmul", "out", out, dt, want)
        # Views with the promoted axes put back (expand_dims never copies).
        out2 = out[..., None] if b.ndim == 1 else out
        out2 = np.expand_dims(out2, -2) if a.ndim == 1 else out2
    r = core(a2, b2, out2)
    if out is not None:
        return out
    if b.ndim == 1:
        r = r[..., 0]
    if a.ndim == 1:
        r = r[..., 0, :] if b.ndim > 1 else r[..., 0]
    return r[()] if r.ndim == 0 else r  # vector . vector: a scalar, as NumPy returns
