"""The property-based fuzzer's machinery (tests/api/test_fuzz.py): case descriptions that rebuild their
arrays byte for byte, the outcome each case must have, the run of one case on every backend with
its checks (results, exceptions, memory, cross-backend agreement), and the hypothesis strategies.

A case is plain data (its repr is a Python expression: `replay(<repr>)` reruns it), so a crash
that kills the process can still be reported by the line it logged first (FUZZ_LOG).

Every array of a case lives in one byte arena filled with 0xFF (a NaN in float32 and float64):
arrays sit apart with guard gaps, except where a case places one inside another on purpose
(`near`). The arena is compared byte for byte after each call: a successful call may change only
the bytes of its output's elements, a failed call nothing at all.
"""
from __future__ import annotations

import dataclasses
import decimal
import fractions
import json
import os
import re
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from hypothesis import currently_in_test_context, event
from hypothesis import strategies as st
from numpy.lib.stride_tricks import as_strided

import hpc_kernels
from hpc_kernels import _cpu
from hpc_kernels._config import config

from _conv_reference import conv2d_ref_and_bound, im2col_ref
from _helpers import EPS, ISAS, gemm_reference

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
FLOATS = (F32, F64)
# The exceptions a rejected call may raise (kernels' own subclass these).
CLEAR = (TypeError, ValueError, OverflowError, MemoryError)
GUARD = 64  # bytes between two arrays of the arena
PREFIXES = {"gemm": ("gemm",), "matmul": ("matmul",), "conv2d": ("conv2d",), "plan": ("Conv2d", "conv2d"),
            "im2col": ("im2col",)}


class Refused(ValueError):
    """What an array-like whose __array__ fails raises: it must reach the caller unchanged."""


class RaisingArray:
    """An array-like whose conversion to an array fails."""

    def __array__(self, *args, **kwargs):
        raise Refused("fuzz: __array__ refused")

    def __repr__(self) -> str:
        return "RaisingArray()"


class ArrayLike:
    """An array-like that is not an ndarray: NumPy's __array__ protocol over an array."""

    def __init__(self, values: np.ndarray) -> None:
        self._values = values

    def __array__(self, dtype=None, copy=None):
        return self._values if dtype is None else self._values.astype(dtype)


# ------------------------------------------------------------------------------------------------
# Arrays
# ------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True, repr=False)
class A:
    """An array: logical shape and dtype, and how it lies in memory.

    strides: element strides (as_strided: zero, negative, overlapping), else C order of the axes
    permuted by `perm` (outermost first), each axis stepped by `step` (negative: reversed), the
    innermost memory axis padded by `pad` elements (-1: np.zeros((13, 129))[:, ::2]). misalign: bytes added to the data pointer;
    skew: bytes added to axis 0's stride (strides that are not whole elements). kind "list": a
    nested Python list of the values; "raising": RaisingArray(); "protocol": an ArrayLike of them;
    "memoryview": a memoryview of a C-order copy. near=(name, k): placed at the data
    pointer of the case's array `name` plus k of its elements (overlapping it on purpose)."""

    shape: Tuple[int, ...]
    dtype: str = "float64"
    strides: Optional[Tuple[int, ...]] = None
    perm: Optional[Tuple[int, ...]] = None
    step: Optional[Tuple[int, ...]] = None
    pad: int = 0
    misalign: int = 0
    skew: int = 0
    readonly: bool = False
    kind: str = "ndarray"
    values: str = "rand"
    seed: int = 0
    near: Optional[Tuple[str, int]] = None

    def __repr__(self) -> str:
        parts = [repr(tuple(self.shape))]
        if self.dtype != "float64":
            parts.append(repr(self.dtype))
        for f in dataclasses.fields(self)[2:]:
            v = getattr(self, f.name)
            if v != f.default:
                parts.append(f"{f.name}={v!r}")
        return f"A({', '.join(parts)})"

    def _repr_pretty_(self, p, cycle) -> None:  # hypothesis prints examples with this
        p.text(repr(self))


def byte_strides(sp: A) -> Tuple[int, ...]:
    item = np.dtype(sp.dtype).itemsize
    nd = len(sp.shape)
    if sp.strides is not None:
        s = [e * item for e in sp.strides]
    else:
        perm = sp.perm or tuple(range(nd))
        step = sp.step or (1,) * nd
        s, acc = [0] * nd, item
        for i, ax in enumerate(reversed(perm)):
            s[ax] = acc * step[ax]
            acc *= max(sp.shape[ax], 1) * abs(step[ax]) + (sp.pad if i == 0 else 0)
    if sp.skew and nd:
        s[0] += sp.skew
    return tuple(s)


def span(shape, strides, item) -> Tuple[int, int]:
    """[lo, hi) of the bytes an array touches, relative to its data pointer."""
    if any(n == 0 for n in shape):
        return 0, item
    lo = sum(min(0, (n - 1) * s) for n, s in zip(shape, strides))
    hi = sum(max(0, (n - 1) * s) for n, s in zip(shape, strides)) + item
    return lo, hi


def _values(sp: A) -> np.ndarray:
    rng = np.random.default_rng(sp.seed)
    if sp.values == "nan":
        v = np.full(sp.shape, np.nan)
    elif sp.values == "ints":
        v = rng.integers(-3, 4, size=sp.shape).astype(np.float64)
    else:
        v = rng.uniform(-1.0, 1.0, size=sp.shape)
    dt = np.dtype(sp.dtype)
    if dt.kind == "c":
        return v + 0.5j
    if dt.kind == "b":
        return v > 0
    if dt.kind in "iu":
        return np.round(v * 3)
    return v


@dataclasses.dataclass
class Built:
    """The arrays of one case, rebuilt: `arena` (uint8) holds every ndarray of `objs`."""

    arena: np.ndarray
    objs: Dict[str, Any]


def build(specs: Dict[str, Any]) -> Built:
    """Arrays of the A specs in `specs` (other values passed through), laid out in one arena."""
    arrays = {k: v for k, v in specs.items() if isinstance(v, A) and v.kind == "ndarray" and v.dtype != "object"}
    place: Dict[str, int] = {}
    lo_all, hi_all, cursor = 0, 0, GUARD
    for name, sp in arrays.items():
        if sp.near is None or sp.near[0] not in arrays:
            lo, hi = span(sp.shape, byte_strides(sp), np.dtype(sp.dtype).itemsize)
            place[name] = -(-(cursor - lo) // GUARD) * GUARD + sp.misalign  # aligned unless misalign says not
            cursor = place[name] + hi + GUARD
    hi_all = cursor
    for name, sp in arrays.items():
        if sp.near is not None and sp.near[0] in arrays:
            other, k = sp.near
            osp = arrays[other]
            lo, hi = span(sp.shape, byte_strides(sp), np.dtype(sp.dtype).itemsize)
            place[name] = place[other] + k * np.dtype(osp.dtype).itemsize + sp.misalign
            lo_all = min(lo_all, (place[name] + lo - GUARD) // GUARD * GUARD)  # keeps the others' alignment
            hi_all = max(hi_all, place[name] + hi + GUARD)
    arena = np.full(hi_all - lo_all, 0xFF, np.uint8)
    objs: Dict[str, Any] = {}
    overlapping = {n for n, sp in arrays.items() if sp.near is not None and sp.near[0] in arrays}
    for name in sorted(arrays, key=lambda n: n in overlapping):  # overlapping ones written last
        sp = arrays[name]
        dt = np.dtype(sp.dtype)
        p = place[name] - lo_all
        view = as_strided(arena[p:p + dt.itemsize].view(dt), sp.shape, byte_strides(sp), writeable=True)
        view[...] = _values(sp)
        objs[name] = view
    for name, sp in specs.items():
        if name in objs:
            continue
        if isinstance(sp, A):
            if sp.kind == "list":
                objs[name] = _values(sp).astype(sp.dtype).tolist()
            elif sp.kind == "raising":
                objs[name] = RaisingArray()
            elif sp.kind == "protocol":
                objs[name] = ArrayLike(_values(sp).astype(sp.dtype))
            elif sp.kind == "memoryview":
                objs[name] = memoryview(np.ascontiguousarray(_values(sp).astype(sp.dtype)))
            else:  # object dtype: cannot live in a byte buffer
                obj = np.empty(sp.shape, object)
                obj[...] = _values(sp)
                objs[name] = obj
        else:
            objs[name] = sp
    for name, sp in arrays.items():
        if sp.readonly:
            objs[name].flags.writeable = False
    return Built(arena, objs)


def in_arena(x: Any, arena: np.ndarray) -> bool:
    if not isinstance(x, np.ndarray) or x.dtype == object:
        return False
    p = x.__array_interface__["data"][0]
    return arena.ctypes.data <= p < arena.ctypes.data + arena.size


def element_offsets(x: np.ndarray, origin: int) -> np.ndarray:
    """Byte offset of every element of x from address `origin`, flattened."""
    off = np.zeros((), np.int64) + (x.__array_interface__["data"][0] - origin)
    for ax, (n, s) in enumerate(zip(x.shape, x.strides)):
        off = np.expand_dims(off, -1) + np.arange(n, dtype=np.int64) * s
    return off.reshape(-1)


def element_bytes(x: np.ndarray, origin: int) -> np.ndarray:
    return (element_offsets(x, origin)[:, None] + np.arange(x.itemsize)).reshape(-1)


def self_overlapping(x: np.ndarray) -> bool:
    """The exact rule: two distinct elements share a byte (for whole-element strides: two indices
    map to the same address, i.e. np.unique of the element offsets is shorter than x.size)."""
    if x.size <= 1:
        return False
    off = np.sort(element_offsets(x, 0))
    return bool((np.diff(off) < x.itemsize).any())


def same_view(x: Any, y: Any) -> bool:
    """x and y address the same elements in the same order (residual=out in place)."""
    return (x.shape == y.shape and x.__array_interface__["data"][0] == y.__array_interface__["data"][0]
            and all(a == b or n <= 1 for a, b, n in zip(x.strides, y.strides, x.shape)))


def overlap_exact(x: Any, y: Any) -> bool:
    """x and y (ndarrays) have a byte in common."""
    if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)) or x.size == 0 or y.size == 0:
        return False
    if x.dtype == object or y.dtype == object or not np.may_share_memory(x, y):
        return False
    return np.intersect1d(element_bytes(x, 0), element_bytes(y, 0)).size > 0


def aligned(x: Any) -> bool:
    """Data pointer and strides whole elements (NumPy calls every empty array aligned; hpc_kernels._cpu
    refuses a misaligned pointer even then)."""
    if not isinstance(x, np.ndarray) or x.dtype == object:
        return True
    item = x.itemsize
    return x.__array_interface__["data"][0] % item == 0 and all(s % item == 0 for s, n in zip(x.strides, x.shape) if n > 1)


def values64(x: Any) -> Optional[np.ndarray]:
    """A float64 copy of an operand's values as a kernel would read them (None: not numeric)."""
    if x is None or isinstance(x, RaisingArray):
        return None
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        return None
    return np.array(arr, dtype=np.float64)


# ------------------------------------------------------------------------------------------------
# Expected outcome
# ------------------------------------------------------------------------------------------------

class Expect:
    """What a call on a case must do. must: problems that make it fail (the exception class is
    one of their classes); maybe: problems a backend may reject it for or not (agreement still
    required); align: a backend may refuse an unaligned array with a ValueError naming it
    (hpc_kernels._cpu and numba's outputs cannot take them: documented)."""

    def __init__(self) -> None:
        self.must: List[Tuple[type, str]] = []
        self.maybe: List[Tuple[type, str]] = []
        self.align = False
        self.incomplete = False  # a problem hid later checks: any TypeError/ValueError is allowed too

    def bad(self, exc, why: str) -> None:
        for e in (exc if isinstance(exc, tuple) else (exc,)):
            self.must.append((e, why))

    def may(self, exc, why: str) -> None:
        for e in (exc if isinstance(exc, tuple) else (exc,)):
            self.maybe.append((e, why))

    def allowed(self) -> Tuple[type, ...]:
        kinds = {e for e, _ in self.must + self.maybe}
        if self.incomplete:
            kinds |= {TypeError, ValueError}
        return tuple(kinds)

    def __repr__(self) -> str:
        return f"Expect(must={self.must}, maybe={self.maybe}, align={self.align})"


def scalar_check(e: Expect, name: str, x: Any) -> Optional[float]:
    """alpha/beta: a real number (Python or NumPy, not bool), else TypeError; the float, or None."""
    if isinstance(x, (bool, np.bool_)) or isinstance(x, (str, complex, np.complexfloating, decimal.Decimal)) or x is None:
        e.bad(TypeError, f"{name}={x!r} is not a real number")
        return None
    if isinstance(x, (list, np.ndarray)):
        e.may(TypeError, f"{name}={x!r} is an array")  # NumPy's float() takes 1-element arrays
        e.incomplete = True
        return float(np.asarray(x).reshape(-1)[0]) if np.size(x) == 1 else None
    try:
        return float(x)
    except OverflowError:
        e.bad((OverflowError, TypeError, ValueError), f"{name}={x!r} does not fit a double")
        return None


def input_dtype(e: Expect, name: str, x: Any) -> Optional[np.dtype]:
    if isinstance(x, RaisingArray):
        e.bad(Refused, f"{name}.__array__ raises")
        e.incomplete = True
        return None
    if not aligned(x):
        e.align = True
    dt = np.asarray(x).dtype
    if dt not in FLOATS or not dt.isnative:
        e.bad(TypeError, f"{name} has dtype {dt}")
        e.incomplete = True
        return None
    return dt


def shape_of(x: Any) -> Optional[Tuple[int, ...]]:
    return None if isinstance(x, RaisingArray) else tuple(np.shape(x))


def output_check(e: Expect, name: str, x: Any, dt: Optional[np.dtype], shape: Optional[Tuple[int, ...]],
                 inputs: Dict[str, Any], soft: Dict[str, Any] = {}, hw: Optional[Tuple[int, int, int, int]] = None) -> None:
    """An output is used as given or rejected. hw=(h axis, w axis, Ho, Wo): conv2d's rule that H
    and W form one stride. soft: inputs an overlap with may or may not be rejected."""
    if not isinstance(x, np.ndarray):
        e.bad(TypeError, f"{name} is a {type(x).__name__}")
        return
    if dt is None or shape is None:
        e.incomplete = True
    if dt is not None and x.dtype != dt:
        e.bad(TypeError, f"{name} has dtype {x.dtype}, the result is {dt}")
    if shape is not None and x.shape != tuple(shape):
        e.bad(ValueError, f"{name} has shape {x.shape}, expected {shape}")
        return
    if not x.flags.writeable:
        e.bad(ValueError, f"{name} is read-only")
    if x.dtype != object and self_overlapping(x):
        e.bad(ValueError, f"{name} has overlapping elements")
    if hw is not None and x.ndim == 4:
        hax, wax, ho, wo = hw
        if ho > 1 and wo > 1 and x.strides[hax] != wo * x.strides[wax]:  # (W of one column: any stride)
            e.bad(ValueError, f"{name}: H and W do not form one stride")
    if not aligned(x):
        e.align = True
    for label, y in inputs.items():
        if overlap_exact(x, y):
            e.bad(ValueError, f"{name} overlaps {label}")
        elif isinstance(y, np.ndarray) and x.size and y.size and np.may_share_memory(x, y):
            e.may(ValueError, f"{name} and {label} share a memory range")
    for label, y in soft.items():
        if isinstance(y, np.ndarray) and x.size and y.size and np.may_share_memory(x, y):
            e.may(ValueError, f"{name} and {label} share a memory range")


# Every integer option of conv2d, Conv2d and im2col (stride, padding, dilation, groups, kernel
# size) is at most 2**31 - 1 on every backend (kernels/_api/conv_args.py INT_MAX): above, ValueError.
INT_MAX = 2**31 - 1


def huge_output(e: Expect, shape: Tuple[int, ...]) -> None:
    """A terabyte output (huge padding, tiny stride) or one with a dimension beyond int64 cannot be
    allocated: the call must refuse it. An empty one with giant dimensions: either."""
    size = int(np.prod([int(n) for n in shape], dtype=object))
    if size * 8 > 2**40 or max(shape) >= 2**63:
        e.bad((MemoryError, ValueError, OverflowError), f"an output of shape {shape}")
    elif max(shape) > 2**31:
        e.may((MemoryError, ValueError, OverflowError), f"an empty output of shape {shape}")


def checked_ints(e: Expect, name: str, v: Any, vals: Tuple[Any, ...], lo: int) -> Optional[Tuple[int, ...]]:
    """The values of an integer option, each an int (bool is not) in [lo, INT_MAX]; else the
    expected error is recorded and None returned."""
    for x in vals:
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)):
            e.bad(TypeError, f"{name}={v!r} is not an integer")
            e.incomplete = True
            return None
    out = tuple(int(x) for x in vals)
    if any(x < lo for x in out):
        e.bad(ValueError, f"{name}={v!r} is below {lo}")
        e.incomplete = True
        return None
    if any(x > INT_MAX for x in out):  # the documented bound of every integer option
        e.bad(ValueError, f"{name}={v!r} is above 2**31 - 1")
        e.incomplete = True
        return None
    return out


def int_param(e: Expect, name: str, v: Any, lo: int, pair: bool = True) -> Optional[Tuple[int, ...]]:
    """stride/dilation/kernel_size: an int or a pair of ints, each >= lo (bool is not an int)."""
    vals = tuple(v) if isinstance(v, (tuple, list)) else (v, v) if pair else (v,)
    if pair and len(vals) != 2:
        e.bad(ValueError, f"{name}={v!r} is not a pair")
        e.incomplete = True
        return None
    return checked_ints(e, name, v, vals, lo)


def padding_param(e: Expect, v: Any, stride: Optional[Tuple[int, int]]) -> Any:
    if isinstance(v, str):
        if v == "valid":
            return (0, 0, 0, 0)
        if v == "same":
            if stride is not None and stride != (1, 1):
                e.bad(ValueError, "padding='same' with stride != 1")
                return None
            return "same"
        e.bad(ValueError, f"padding={v!r}")
        e.incomplete = True
        return None
    vals = tuple(v) if isinstance(v, (tuple, list)) else (v,)
    if len(vals) not in (1, 2, 4):
        e.bad(ValueError, f"padding={v!r} has {len(vals)} values")
        e.incomplete = True
        return None
    vals = checked_ints(e, "padding", v, vals, 0)
    if vals is None:
        return None
    if len(vals) == 1:
        return vals * 4
    return (vals[0], vals[0], vals[1], vals[1]) if len(vals) == 2 else vals


# ------------------------------------------------------------------------------------------------
# Backends
# ------------------------------------------------------------------------------------------------

def _opencl_health() -> Tuple[bool, str]:
    """opencl is listed available when a platform exists; its compiler may still be broken here
    (a PoCL whose LLVM does not know this CPU fails every build): the fuzzer then leaves it out
    and says so (tests/api/test_fuzz.py::test_backends_fuzzed skips with this reason)."""
    info = hpc_kernels.info()["backends"].get("opencl", {})
    if not info.get("available"):
        return False, f"opencl not available: {info.get('reason')}"
    try:
        a = np.ones((2, 2), np.float32)
        hpc_kernels.gemm(a, a, backend="opencl")
        x, w = np.ones((1, 1, 3, 3), np.float32), np.ones((1, 1, 1, 1), np.float32)
        hpc_kernels.conv2d(x, w, backend="opencl")
    except Exception as exc:  # noqa: BLE001 - any failure of a trivial call means the platform is unusable
        return False, f"opencl platform unusable here: {type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}"
    return True, "ok"


def _backends() -> Tuple[List[str], Dict[str, str]]:
    """Every installed and available backend; the cpu engine also capped at each other ISA this CPU
    runs ("cpu-avx2", "cpu-generic"), since the micro-kernels and conv paths differ per ISA."""
    names, left_out = [], {}
    for name, info in hpc_kernels.info()["backends"].items():
        if not info["available"]:
            left_out[name] = info["reason"]
            continue
        if name == "opencl":
            ok, why = _opencl_health()
            if not ok:
                left_out[name] = why
                continue
        names.append(name)
        if name == "cpu":
            names += [f"cpu-{isa}" for isa in ISAS if isa != (config.cpu_isa or "avx512")]
    only = os.environ.get("FUZZ_BACKENDS")
    if only:
        keep = set(only.split(","))
        left_out.update({n: "not in FUZZ_BACKENDS" for n in names if n not in keep})
        names = [n for n in names if n in keep]
    return names, left_out


BACKENDS, LEFT_OUT = _backends()


class _isa:
    """Runs the block with the cpu engine capped at the backend name's ISA ("cpu-avx2")."""

    def __init__(self, backend: str) -> None:
        self.isa = backend[4:] if backend.startswith("cpu-") else None

    def __enter__(self) -> str:
        if self.isa:
            _cpu.configure(self.isa)
        return "cpu" if self.isa else None

    def __exit__(self, *exc) -> None:
        if self.isa:
            _cpu.configure(config.cpu_isa or "avx512", config.cpu_mc, config.cpu_kc, config.cpu_nc, source="env")


def family(backend: str) -> str:
    """cpu-avx2 -> cpu: a crash on one ISA of the cpu engine is not rerun on the others."""
    return backend.split("-")[0]


def _crashers() -> set:
    """FUZZ_CRASHERS=path: lines "op<TAB>backend<TAB>repr" of calls that killed an earlier process
    (.ci/fuzz.sh writes them): not run again, so a rerun goes past the crash to further examples."""
    path = os.environ.get("FUZZ_CRASHERS")
    if not path or not os.path.exists(path):
        return set()
    with open(path) as f:
        calls = [line.rstrip("\n").split("\t", 2) for line in f if line.count("\t") >= 2]
    return {(op, family(be), case) for op, be, case in calls}


CRASHERS = _crashers()


def _log(op: str, backend: str, case: Any) -> None:
    """FUZZ_LOG=path: the example about to run, on disk before the call (a crash loses nothing)."""
    path = os.environ.get("FUZZ_LOG")
    if not path:
        return
    with open(path, "a") as f:
        f.write(f"{op}\t{backend}\t{case!r}\n")
        f.flush()
        os.fsync(f.fileno())


# ------------------------------------------------------------------------------------------------
# Failures: one exception class per (kind, backend), so hypothesis reports each distinct failure
# separately (it tells failures apart by exception type and raising line) and shrinks each.
# ------------------------------------------------------------------------------------------------

class FuzzFailure(AssertionError):
    pass


_kinds: Dict[str, type] = {}


def fail(kind: str, who: str, msg: str) -> None:
    name = f"{kind}[{who}]"
    cls = _kinds.get(name)
    if cls is None:
        cls = _kinds[name] = type(name, (FuzzFailure,), {})
    raise cls(msg)


@dataclasses.dataclass
class Outcome:
    backend: str
    built: Built
    before: np.ndarray  # the arena's bytes before the call
    result: Any = None
    exc: Optional[BaseException] = None
    phase: str = "call"
    skipped: bool = False
    failure: Optional[BaseException] = None  # a FuzzFailure found during the call (a plan that wrote its inputs)

    def label(self) -> str:
        return "ok" if self.exc is None else f"{self.phase}:{type(self.exc).__name__}"


def unsupported(exc: BaseException, backend: str) -> bool:
    """The backend does not implement the op (UnsupportedOperation), or the conv2d algorithm asked
    for: a ValueError naming one it does not declare (each backend implements its own subset,
    kernels/backends/<name>/algorithms.py). Its outcome is left out of the agreement."""
    if isinstance(exc, hpc_kernels.UnsupportedOperation) and "does not implement" in str(exc):
        return True
    m = re.search(r"does not implement algorithm '([^']*)'", str(exc))
    return (type(exc) is ValueError and m is not None
            and m.group(1) not in hpc_kernels._dispatch._load(family(backend)).algorithms)


def align_refusal(exc: BaseException) -> bool:
    """hpc_kernels._cpu's refusal of a misaligned array or of strides that are not whole elements."""
    return type(exc) is ValueError and ("align" in str(exc) or "not a multiple of its" in str(exc))


def check_one(op: str, o: Outcome, expect: Expect, check_result) -> Optional[str]:
    """One backend's outcome against `expect`: its label for the agreement check, None when it is
    left out of it (a documented refusal of an unaligned array); FuzzFailure when it is wrong."""
    who = o.backend
    if o.failure is not None:
        raise o.failure
    if o.exc is None:
        if expect.must:
            fail("MustReject", who, f"{op} on {who} returned instead of raising: {expect.must}")
        check_result(o)
        return o.label()
    exc, msg = o.exc, str(o.exc)
    if not isinstance(exc, CLEAR):
        fail("UnexpectedException", who, f"{op} on {who} raised {type(exc).__name__}: {msg[:500]}\n{expect}")
    if "incompatible function arguments" in msg or "Invoked with" in msg:
        fail("SignatureDump", who, f"{op} on {who}: {type(exc).__name__} with a pybind11 signature dump: {msg[:300]}")
    if not isinstance(exc, (MemoryError, Refused)) and not msg.startswith(PREFIXES[op]):
        fail("UnclearMessage", who, f"{op} on {who}: {type(exc).__name__}({msg[:300]!r}) does not say which call failed")
    changed = np.flatnonzero(o.built.arena != o.before)
    if changed.size:
        fail("WroteOnError", who, f"{op} on {who} raised {type(exc).__name__} after writing {changed.size} byte(s) "
                                  f"(first at arena byte {changed[0]})")
    if expect.align and align_refusal(exc):
        return None
    if not expect.must and not expect.maybe:
        fail("MustAccept", who, f"{op} on {who} rejected a valid call: {type(exc).__name__}: {msg[:300]}")
    allowed = expect.allowed()
    if not isinstance(exc, allowed):
        fail("WrongException", who, f"{op} on {who} raised {type(exc).__name__}({msg[:200]!r}); expected one of "
                                    f"{[c.__name__ for c in allowed]}: {expect}")
    return o.label()


def check_outcomes(op: str, case: Any, expect: Expect, outcomes: List[Outcome], check_result) -> None:
    """Every backend's outcome against `expect`, then those found right against each other
    (the same exception class, or all a result). Raises the first failure; with FUZZ_SURVEY=path
    records every failure there instead (one JSON line each) and returns."""
    failures: List[FuzzFailure] = []
    labels: Dict[str, str] = {}
    for o in outcomes:
        if o.skipped:
            continue
        try:
            label = check_one(op, o, expect, check_result)
        except FuzzFailure as f:
            failures.append(f)
            continue
        if label is not None:
            labels[o.backend] = label
    if len(set(labels.values())) > 1:
        pattern = ",".join(f"{b}={labels[b]}" for b in labels)
        msgs = "; ".join(f"{o.backend}: {str(o.exc)[:120]}" for o in outcomes if o.exc is not None and o.backend in labels)
        try:
            fail("Disagree", pattern, f"{op}: backends disagree: {pattern} ({msgs})")
        except FuzzFailure as f:
            failures.append(f)
    if not failures:
        return
    survey = os.environ.get("FUZZ_SURVEY")
    if not survey:
        raise failures[0]
    with open(survey, "a") as fh:
        for f in failures:
            fh.write(json.dumps({"op": op, "failure": type(f).__name__, "message": str(f).splitlines()[0][:400],
                                 "case": repr(case)}) + "\n")


def check_memory(o: Outcome, target: Any, who: str, op: str) -> None:
    """After a successful call only the bytes of the output's elements may differ."""
    arena = o.built.arena
    changed = arena != o.before
    if isinstance(target, np.ndarray) and in_arena(target, arena) and target.size:
        changed[element_bytes(target, arena.ctypes.data)] = False
    if changed.any():
        idx = np.flatnonzero(changed)
        names = [n for n, x in o.built.objs.items()
                 if in_arena(x, arena) and x.size and np.isin(idx, element_bytes(x, arena.ctypes.data)).any()]
        fail("WroteOutside", who, f"{op} on {who} changed {idx.size} byte(s) outside its output (arena bytes "
                                  f"{idx[:8].tolist()}..., inside {names or 'guard gaps'})")


def may_overflow(dt: np.dtype, k: int, *factors: Any) -> bool:
    """Whether a partial sum of k products of these factors could leave the dtype's range, judged from
    their largest magnitudes alone (false for all but arena bytes read as values near float32's
    maximum, so the per-element reach is computed only then)."""
    if np.dtype(dt).kind != "f":
        return False
    top = float(max(k, 1))
    for f in factors:
        m = float(np.nanmax(np.abs(f), initial=0.0)) if f is not None else 0.0
        top *= m if np.isfinite(m) else float(np.finfo(np.float64).max)
    return top > float(np.finfo(dt).max) / 2


def check_values(got: Any, ref: np.ndarray, bound: np.ndarray, dt: np.dtype, who: str, op: str,
                 reach: Optional[np.ndarray] = None) -> None:
    """`reach`: the float64 sum of |products| each element accumulates before any scaling (alpha, a
    per-channel scale). Where it passes the dtype's largest value a partial sum can overflow however
    the exact result lies (IEEE arithmetic in any order; BLIS and OpenBLAS scale by alpha after the
    sum, netlib's reference before it: each has cases the other does not), so there a non-finite
    result is accepted; a finite one is still held to the bound."""
    if not isinstance(got, (np.ndarray, np.generic)):
        fail("WrongType", who, f"{op} on {who} returned a {type(got).__name__}")
    if got.dtype != dt or np.shape(got) != ref.shape:
        fail("WrongShapeOrDtype", who, f"{op} on {who} returned {got.dtype}{np.shape(got)}, expected {dt}{ref.shape}")
    g = np.asarray(got, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        err = np.abs(g - ref)
    # Results in the subnormal range carry an absolute error (gradual underflow: alpha = 1e-45 in
    # float32 makes every product 0): a slack of 1024 subnormals, far below any normal result.
    bound = bound + 1024 * float(np.finfo(dt).smallest_subnormal)
    # NaN counts as bad, except where the reference itself is not finite (an input read through a
    # view whose strides are not whole elements picks up the arena's 0xFF bytes: NaN)
    bad = ~(err <= bound) & np.isfinite(ref)
    if dt.kind == "f":
        # A result beyond the dtype's range even at the bound's edge rounds to an infinity of its sign
        # (arena bytes read as values can be near float32's maximum: 2 * -2.3e38 is -inf in float32).
        beyond = np.abs(ref) - bound > float(np.finfo(dt).max)
        with np.errstate(invalid="ignore"):
            bad &= ~(beyond & np.isinf(g) & (np.sign(g) == np.sign(ref)))
            if reach is not None:
                bad &= ~((np.asarray(reach) > float(np.finfo(dt).max)) & ~np.isfinite(g))
    if bad.any():
        i = tuple(int(j) for j in np.argwhere(bad)[0])
        fail("WrongResult", who, f"{op} on {who}: {int(bad.sum())}/{bad.size} element(s) outside the bound; first at "
                                 f"{i}: got {g[i]!r}, expected {ref[i]!r} +- {bound[i]!r}")


class Case:
    """A case's repr names only the fields that differ from their defaults (and is a Python
    expression that rebuilds it, given the names of this module)."""

    def __repr__(self) -> str:
        fields = dataclasses.fields(self)
        parts = [_r(getattr(self, f.name)) for f in fields if f.default is dataclasses.MISSING]
        parts += [f"{f.name}={_r(getattr(self, f.name))}" for f in fields
                  if f.default is not dataclasses.MISSING and not _same(getattr(self, f.name), f.default)]
        return f"{type(self).__name__}({', '.join(parts)})"

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(repr(self))


def _r(v: Any) -> str:
    """repr, with huge ints as powers (10**400, not 401 digits)."""
    if type(v) is int and abs(v) >= 2**40:
        for b in (2, 10):
            e = round((abs(v).bit_length() - 1) / np.log2(b))
            if b**e == abs(v):
                return f"{'-' if v < 0 else ''}{b}**{e}"
    if isinstance(v, tuple):
        return "(" + ", ".join(map(_r, v)) + ("," if len(v) == 1 else "") + ")"
    return repr(v)


def _same(v: Any, default: Any) -> bool:
    return type(v) is type(default) and v == default


def run_all(op: str, case: Any, call, expect: Expect, check_result, backends=None) -> List[Outcome]:
    outcomes = []
    for be in backends or BACKENDS:
        built = case.build()
        o = Outcome(be, built, built.arena.copy())
        if CRASHERS and (op, family(be), repr(case)) in CRASHERS:
            o.skipped = True
            outcomes.append(o)
            continue
        _log(op, be, case)
        with _isa(be) as cpu:
            try:
                o.result = call(built, cpu or be, o)
            except FuzzFailure as f:
                o.failure = f
            except Exception as exc:  # noqa: BLE001 - every exception is classified by check_outcomes
                o.exc = exc
                o.skipped = unsupported(exc, be)
        outcomes.append(o)
    if currently_in_test_context():  # hypothesis' statistics: how many calls were valid
        event(f"{op}: {'rejected' if expect.must else 'either' if expect.maybe else 'valid'}"
              f"{' (unaligned)' if expect.align else ''}")
    check_outcomes(op, case, expect, outcomes, check_result)
    return outcomes


# ------------------------------------------------------------------------------------------------
# gemm
# ------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True, repr=False)
class GemmCase(Case):
    """hpc_kernels.gemm(a, b, c, alpha=, beta=, trans_a=, trans_b=, out=). c: an A, None, or "a"/"b"
    (the same object); out: an A, None, or "a"/"b"/"c" (out is that object). On the pseudo-backend
    "opencl-device" every array is a pyopencl array viewing a device copy of the arena."""

    a: Any
    b: Any
    c: Any = None
    out: Any = None
    alpha: Any = 1.0
    beta: Any = 0.0
    trans_a: bool = False
    trans_b: bool = False

    def build(self) -> Built:
        specs = {"a": self.a, "b": self.b}
        if isinstance(self.c, A):
            specs["c"] = self.c
        if isinstance(self.out, A):
            specs["out"] = self.out
        bt = build(specs)
        o = bt.objs
        o["c"] = o[self.c] if isinstance(self.c, str) else o.get("c")
        o["out"] = o[self.out] if isinstance(self.out, str) else o.get("out")
        return bt

    def expect(self, objs) -> Expect:
        e = Expect()
        a, b, c, out = objs["a"], objs["b"], objs["c"], objs["out"]
        scalar_check(e, "alpha", self.alpha)
        beta = scalar_check(e, "beta", self.beta)
        da, db = input_dtype(e, "a", a), input_dtype(e, "b", b)
        dt = None
        if da is not None and db is not None:
            if da != db:
                e.bad(TypeError, f"a is {da}, b is {db}")
            else:
                dt = da
        mn = None
        sa, sb = shape_of(a), shape_of(b)
        if sa is not None and sb is not None:
            if len(sa) != 2 or len(sb) != 2:
                e.bad(ValueError, f"a {sa} / b {sb} not 2-D")
            else:
                m, k = sa[::-1] if self.trans_a else sa
                kb, n = sb[::-1] if self.trans_b else sb
                if k != kb:
                    e.bad(ValueError, f"inner dimensions {k} != {kb}")
                else:
                    mn = (m, n)
        else:
            e.incomplete = True
        if c is None and beta is not None and beta != 0:
            e.bad(ValueError, "beta != 0 needs an input c")
        inputs = {"a": a, "b": b}
        if out is None or out is c:
            if c is not None:
                output_check(e, "c", c, dt, mn, inputs)
        else:
            output_check(e, "out", out, dt, mn, inputs)
            if c is not None:
                if not isinstance(c, np.ndarray):
                    e.bad(TypeError, f"c is a {type(c).__name__}")
                else:
                    if dt is not None and c.dtype != dt:
                        e.bad(TypeError, f"c has dtype {c.dtype}")
                    if mn is not None and c.shape != mn:
                        e.bad(ValueError, f"c has shape {c.shape}")
                    if isinstance(out, np.ndarray):
                        if overlap_exact(out, c):
                            e.bad(ValueError, "out overlaps c")
                        elif out.size and c.size and np.may_share_memory(out, c):
                            e.may(ValueError, "out and c share a memory range")
                    if not aligned(c):
                        e.align = True
        return e

    def call(self, bt: Built, backend: str, o: Outcome) -> Any:
        if backend == "opencl-device":
            return on_device(bt, lambda x: hpc_kernels.gemm(
                x["a"], x["b"], x["c"], alpha=self.alpha, beta=self.beta, trans_a=self.trans_a, trans_b=self.trans_b,
                out=x["out"], backend="opencl"))
        x = bt.objs
        return hpc_kernels.gemm(x["a"], x["b"], x["c"], alpha=self.alpha, beta=self.beta, trans_a=self.trans_a,
                            trans_b=self.trans_b, out=x["out"], backend=backend)


def on_device(bt: Built, run) -> Any:
    """Runs `run(objs)` with every ndarray of the arena replaced by a pyopencl array that views a
    device copy of the arena at the same byte offset and strides; the device arena is then copied
    back into bt.arena (so the memory checks see what the call wrote), and a device result that is
    one of the views is returned as its host view (a new device array: as a NumPy copy)."""
    from hpc_kernels.backends.opencl import runtime as rt

    q = rt.default_device().queue
    dev_arena = rt.cla.to_device(q, bt.arena)
    host_of: Dict[int, np.ndarray] = {}
    objs = dict(bt.objs)
    for name, x in bt.objs.items():
        if in_arena(x, bt.arena):
            off = x.__array_interface__["data"][0] - bt.arena.ctypes.data
            objs[name] = rt.cla.Array(q, x.shape, x.dtype, strides=x.strides, data=dev_arena.base_data, offset=off)
            host_of[id(objs[name])] = x
    for name, x in bt.objs.items():  # the same object twice (out is c): the same device array
        for other, y in bt.objs.items():
            if other < name and y is x and in_arena(x, bt.arena):
                objs[name] = objs[other]
    try:
        result = run(objs)
    finally:
        bt.arena[...] = dev_arena.get()
    if id(result) in host_of:
        return host_of[id(result)]
    return result.get() if isinstance(result, rt.cla.Array) else result


def run_gemm(case: GemmCase, backends=None) -> None:
    fresh = case.build()
    expect = case.expect(fresh.objs)
    a64, b64 = values64(fresh.objs["a"]), values64(fresh.objs["b"])
    c0 = values64(fresh.objs["c"])
    alpha, beta = scalar_check(Expect(), "alpha", case.alpha), scalar_check(Expect(), "beta", case.beta)

    def check(o: Outcome) -> None:
        x = o.built.objs
        target = x["out"] if x["out"] is not None else x["c"]
        if target is not None and o.result is not target:
            fail("NotInPlace", o.backend, f"gemm on {o.backend} returned a new array instead of its output")
        check_memory(o, target, o.backend, "gemm")
        if target is None and in_arena(o.result, o.built.arena):
            fail("ResultAliasesInput", o.backend, "gemm returned a view of an input")
        opa, opb = (a64.T if case.trans_a else a64), (b64.T if case.trans_b else b64)
        ref, bound = gemm_reference(opa, opb, c0, alpha, beta)  # float64: bound scaled to the data's eps
        dt = np.asarray(x["a"]).dtype
        bound = bound * (EPS[dt] / EPS[F64])
        reach = None
        if may_overflow(dt, opa.shape[1], opa, opb):  # the sum may run before alpha scales it or after
            reach = max(1.0, abs(alpha or 0.0)) * (np.abs(opa) @ np.abs(opb))
        check_values(o.result, ref, bound, dt, o.backend, "gemm", reach)

    run_all("gemm", case, case.call, expect, check, backends)


def run_gemm_device(case: GemmCase) -> None:
    """The case on pyopencl arrays (opencl), and on NumPy arrays on the reference backend to agree with."""
    run_gemm(case, backends=["reference", "opencl-device"])


# ------------------------------------------------------------------------------------------------
# matmul
# ------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True, repr=False)
class MatmulCase(Case):
    """hpc_kernels.matmul(a, b, out=); out: an A, None or "a"/"b"."""

    a: Any
    b: Any
    out: Any = None

    def build(self) -> Built:
        specs = {"a": self.a, "b": self.b}
        if isinstance(self.out, A):
            specs["out"] = self.out
        bt = build(specs)
        bt.objs["out"] = bt.objs[self.out] if isinstance(self.out, str) else bt.objs.get("out")
        return bt

    def expect(self, objs) -> Expect:
        e = Expect()
        a, b, out = objs["a"], objs["b"], objs["out"]
        da, db = input_dtype(e, "a", a), input_dtype(e, "b", b)
        dt = da if (da is not None and da == db) else None
        if da is not None and db is not None and da != db:
            e.bad(TypeError, f"a is {da}, b is {db}")
        sa, sb = shape_of(a), shape_of(b)
        shape = None
        if sa is not None and sb is not None:
            if len(sa) == 0 or len(sb) == 0:
                e.bad(ValueError, "scalar operand")
            else:
                try:
                    shape = np.matmul(np.empty(sa, np.int8), np.empty(sb, np.int8)).shape  # NumPy's rule
                except ValueError:
                    e.bad(ValueError, f"shapes {sa} and {sb} do not match")
        else:
            e.incomplete = True
        if out is not None:
            output_check(e, "out", out, dt, shape, {"a": a, "b": b})
        return e

    def call(self, bt: Built, backend: str, o: Outcome) -> Any:
        x = bt.objs
        return hpc_kernels.matmul(x["a"], x["b"], out=x["out"], backend=backend)


def run_matmul(case: MatmulCase, backends=None) -> None:
    fresh = case.build()
    expect = case.expect(fresh.objs)
    a64, b64 = values64(fresh.objs["a"]), values64(fresh.objs["b"])

    def check(o: Outcome) -> None:
        out = o.built.objs["out"]
        if out is not None and o.result is not out:
            fail("NotInPlace", o.backend, f"matmul on {o.backend} returned a new array instead of out")
        check_memory(o, out, o.backend, "matmul")
        if out is None and in_arena(o.result, o.built.arena):
            fail("ResultAliasesInput", o.backend, "matmul returned a view of an input")
        dt = np.asarray(o.built.objs["a"]).dtype
        ref = np.matmul(a64, b64)
        kk = a64.shape[-1]
        reach = np.matmul(np.abs(a64), np.abs(b64))
        bound = (2 * kk + 4) * EPS[dt] * reach
        check_values(o.result, np.asarray(ref), np.asarray(bound), dt, o.backend, "matmul", reach)

    run_all("matmul", case, case.call, expect, check, backends)


# ------------------------------------------------------------------------------------------------
# conv2d, Conv2d plans, im2col
# ------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True, repr=False)
class ConvCase(Case):
    """hpc_kernels.conv2d(x, w, bias, stride=, padding=, dilation=, groups=, layout=, activation=,
    scale=, shift=, algorithm=, out=, residual=); out: an A, None or "x"/"w"/"bias"; residual:
    an A, None or "out" (in place: y = act(conv + y)). plan: run it as
    hpc_kernels.Conv2d(w, bias, ...)(x, out=, residual=) instead; mutate: then overwrite w, bias,
    scale and shift between building the plan and calling it (a plan owns what it packed)."""

    x: Any
    w: Any
    bias: Any = None
    scale: Any = None
    shift: Any = None
    stride: Any = 1
    padding: Any = 0
    dilation: Any = 1
    groups: Any = 1
    layout: Any = "NCHW"
    activation: Any = None
    algorithm: Any = "auto"
    out: Any = None
    plan: bool = False
    mutate: bool = False
    residual: Any = None

    def build(self) -> Built:
        specs = {k: getattr(self, k) for k in ("x", "w", "bias", "scale", "shift")}
        if isinstance(self.out, A):
            specs["out"] = self.out
        if isinstance(self.residual, A):
            specs["residual"] = self.residual  # after out: it may be placed near it
        bt = build(specs)
        bt.objs["out"] = bt.objs[self.out] if isinstance(self.out, str) else bt.objs.get("out")
        bt.objs["residual"] = bt.objs["out"] if self.residual == "out" else bt.objs.get("residual")
        return bt

    def geometry(self, e: Expect, sx: Optional[Tuple[int, ...]], sw: Optional[Tuple[int, ...]]):
        """The layer's geometry (a dict) or None, adding the problems of the options and of the
        shapes sx, sw of x and w (None: unknown) to e."""
        stride = int_param(e, "stride", self.stride, 1)
        dil = int_param(e, "dilation", self.dilation, 1)
        pad = padding_param(e, self.padding, stride)
        g = None
        if isinstance(self.groups, (bool, np.bool_)) or not isinstance(self.groups, (int, np.integer)):
            e.bad(TypeError, f"groups={self.groups!r}")
            e.incomplete = True
        elif not 1 <= self.groups <= INT_MAX:
            e.bad(ValueError, f"groups={self.groups!r}")
            e.incomplete = True
        else:
            g = int(self.groups)
        if self.layout not in ("NCHW", "NHWC"):
            e.bad(ValueError, f"layout={self.layout!r}")
            e.incomplete = True
        if self.activation not in (None, "relu", "relu6"):
            e.bad(ValueError, f"activation={self.activation!r}")
        if self.algorithm not in ("auto", "im2col", "convgemm", "gemm", "direct", "winograd"):
            e.bad(ValueError, f"algorithm={self.algorithm!r}")
        if sw is not None and len(sw) != 4:
            e.bad(ValueError, f"w is {len(sw)}-D")
            e.incomplete = True
            return None
        if sx is not None and len(sx) != 4:
            e.bad(ValueError, f"x is {len(sx)}-D")
            e.incomplete = True
            return None
        if None in (stride, dil, pad, g, sx, sw) or self.layout not in ("NCHW", "NHWC"):
            e.incomplete = True
            return None
        if self.layout == "NCHW":
            n, c, h, wd = sx
        else:
            n, h, wd, c = sx
        k, cg, r, s = sw
        if c % g or k % g or cg * g != c:
            e.bad(ValueError, f"groups={g} does not fit C={c}, K={k}, w.shape[1]={cg}")
            return None
        if r < 1 or s < 1:
            e.bad(ValueError, "kernel smaller than 1x1")
            return None
        if pad == "same":
            th, tw = dil[0] * (r - 1), dil[1] * (s - 1)
            pad = (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        ho = (h + pad[0] + pad[1] - dil[0] * (r - 1) - 1) // stride[0] + 1
        wo = (wd + pad[2] + pad[3] - dil[1] * (s - 1) - 1) // stride[1] + 1
        if ho < 1 or wo < 1:
            e.bad(ValueError, "kernel larger than the padded input")
            return None
        if self.algorithm == "gemm" and not (r == s == 1 and stride == (1, 1) and pad == (0, 0, 0, 0)):
            e.bad(ValueError, "algorithm 'gemm' on a layer that is not 1x1/stride 1/unpadded")
        if self.algorithm == "winograd" and not (r == s == 3 and stride == (1, 1) and dil == (1, 1) and g == 1):
            e.bad(ValueError, "algorithm 'winograd' on a layer that is not 3x3/stride 1/dilation 1/one group")
        out_shape = (n, k, ho, wo) if self.layout == "NCHW" else (n, ho, wo, k)
        huge_output(e, out_shape)
        return dict(n=n, c=c, h=h, w=wd, k=k, r=r, s=s, ho=ho, wo=wo, pad=pad, stride=stride, dil=dil, g=g,
                    out_shape=out_shape)

    def expect(self, objs) -> Tuple[Expect, Optional[dict]]:
        e = Expect()
        x, w, out = objs["x"], objs["w"], objs["out"]
        dx, dw = input_dtype(e, "x", x), input_dtype(e, "w", w)
        dt = dx if (dx is not None and dx == dw) else None
        if dx is not None and dw is not None and dx != dw:
            e.bad(TypeError, f"x is {dx}, w is {dw}")
        geo = self.geometry(e, shape_of(x), shape_of(w))
        for name in ("bias", "scale", "shift"):
            v = objs[name]
            if v is None:
                continue
            if isinstance(v, RaisingArray):
                e.bad(Refused, f"{name}.__array__ raises")
                continue
            if isinstance(v, np.ndarray):
                if dt is not None and v.dtype != dt:
                    e.bad(TypeError, f"{name} has dtype {v.dtype}")
                if not aligned(v):
                    e.align = True
            elif dt is None:
                e.incomplete = True
            if geo is not None and np.shape(v) != (geo["k"],):
                e.bad(ValueError, f"{name} has shape {np.shape(v)}")
        if out is not None:
            hw = None
            if geo is not None:
                hw = (2, 3, geo["ho"], geo["wo"]) if self.layout == "NCHW" else (1, 2, geo["ho"], geo["wo"])
            # A plan's weights and vectors were copied when it was built (Conv2d owns what it
            # packed): its call reads only x, so out may lie over the caller's w, bias, ...
            params = {} if self.plan else {"w": w}
            soft = {} if self.plan else {k: objs[k] for k in ("bias", "scale", "shift")}
            output_check(e, "out", out, dt, geo and geo["out_shape"], {"x": x, **params}, soft=soft, hw=hw)
        res = objs.get("residual")
        if res is not None:  # conv_args.check_residual: dtype, shape, then overlap with out (out itself is fine)
            if isinstance(res, RaisingArray):
                e.bad(Refused, "residual.__array__ raises")
            elif isinstance(res, np.ndarray) and res.dtype != object:
                if dt is not None and res.dtype != dt:
                    e.bad(TypeError, f"residual has dtype {res.dtype}")
                elif geo is not None and res.shape != geo["out_shape"]:
                    e.bad(ValueError, f"residual has shape {res.shape}")
                elif (isinstance(out, np.ndarray) and res is not out and overlap_exact(res, out)
                      and not same_view(res, out)):
                    e.bad(ValueError, "residual overlaps out")
            else:
                e.incomplete = True
        return e, geo

    def _kw(self) -> dict:
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation, groups=self.groups,
                    layout=self.layout, activation=self.activation, algorithm=self.algorithm)

    def call(self, bt: Built, backend: str, o: Outcome) -> Any:
        x = bt.objs
        if not self.plan:
            return hpc_kernels.conv2d(x["x"], x["w"], x["bias"], scale=x["scale"], shift=x["shift"], out=x["out"],
                                  backend=backend, residual=x["residual"], **self._kw())
        o.phase = "build"
        plan = hpc_kernels.Conv2d(x["w"], x["bias"], scale=x["scale"], shift=x["shift"], backend=backend, **self._kw())
        changed = np.flatnonzero(bt.arena != o.before)
        if changed.size:
            fail("PlanWroteInputs", o.backend, f"Conv2d on {o.backend} changed {changed.size} byte(s) of its inputs")
        if self.mutate:  # the plan packed its own copy: later writes to the user's arrays must not reach it
            for name in ("w", "bias", "scale", "shift"):
                v = x[name]
                if in_arena(v, bt.arena) and v.size:
                    bt.arena[element_bytes(v, bt.arena.ctypes.data)] = 0x3F  # ~0.75 / ~0.75 in f32 / f64
            o.before = bt.arena.copy()
        o.phase = "call"
        return plan(x["x"], out=x["out"], residual=x["residual"])


def run_conv(case: ConvCase, backends=None) -> None:
    op = "plan" if case.plan else "conv2d"
    fresh = case.build()
    expect, geo = case.expect(fresh.objs)
    vals = {k: values64(fresh.objs[k]) for k in ("x", "w", "bias", "scale", "shift", "residual")}

    def check(o: Outcome) -> None:
        out = o.built.objs["out"]
        if out is not None and o.result is not out:
            fail("NotInPlace", o.backend, f"{op} on {o.backend} returned a new array instead of out")
        check_memory(o, out, o.backend, op)
        if out is None and in_arena(o.result, o.built.arena):
            fail("ResultAliasesInput", o.backend, f"{op} returned a view of an input")
        dt = np.asarray(o.built.objs["x"]).dtype
        if geo is None:
            fail("MustReject", o.backend, f"{op} on {o.backend} returned for a layer the fuzzer thinks invalid: {expect}")
        if int(np.prod(geo["out_shape"])) == 0:
            check_values(o.result, np.zeros(geo["out_shape"]), np.zeros(geo["out_shape"]), dt, o.backend, op)
            return
        if huge(geo):
            ref, bound = conv_taps_ref(vals, geo, case.layout, case.activation, dt)
        else:
            ref, bound = conv2d_ref_and_bound(
                vals["x"], vals["w"], vals["bias"], stride=geo["stride"], padding=geo["pad"], dilation=geo["dil"],
                groups=geo["g"], layout=case.layout, activation=case.activation, scale=vals["scale"],
                shift=vals["shift"], dtype=dt, residual=vals["residual"])
        check_values(o.result, ref, bound, dt, o.backend, op, conv_reach(vals, geo, case.layout, bound, dt))

    run_all(op, case, case.call, expect, check, backends)


@dataclasses.dataclass(frozen=True, repr=False)
class Im2colCase(Case):
    """hpc_kernels.im2col(x, kernel_size, stride=, padding=, dilation=, layout=)."""

    x: Any
    kernel_size: Any = 3
    stride: Any = 1
    padding: Any = 0
    dilation: Any = 1
    layout: Any = "NCHW"

    def build(self) -> Built:
        return build({"x": self.x})

    def expect(self, objs) -> Tuple[Expect, Optional[Tuple[int, int]]]:
        e = Expect()
        x = objs["x"]
        input_dtype(e, "x", x)
        ks = int_param(e, "kernel_size", self.kernel_size, 1)
        sx = shape_of(x)
        c = sx[1 if self.layout == "NCHW" else 3] if sx is not None and len(sx) == 4 else 1
        conv = ConvCase(x=None, w=None, stride=self.stride, padding=self.padding, dilation=self.dilation,
                        layout=self.layout)
        geo = conv.geometry(e, sx, (c, c) + (ks or (1, 1)))
        if ks is None:
            geo = None
        if geo is not None:
            huge_output(e, lowered_shape(geo, self.layout))
        return e, geo

    def call(self, bt: Built, backend: str, o: Outcome) -> Any:
        return hpc_kernels.im2col(bt.objs["x"], self.kernel_size, stride=self.stride, padding=self.padding,
                              dilation=self.dilation, layout=self.layout, backend=backend)


def run_im2col(case: Im2colCase, backends=None) -> None:
    fresh = case.build()
    expect, geo = case.expect(fresh.objs)
    x64 = values64(fresh.objs["x"])

    def check(o: Outcome) -> None:
        check_memory(o, None, o.backend, "im2col")
        if in_arena(o.result, o.built.arena):
            fail("ResultAliasesInput", o.backend, "im2col returned a view of an input")
        dt = np.asarray(o.built.objs["x"]).dtype
        if geo is None:
            fail("MustReject", o.backend, f"im2col on {o.backend} returned for a layer the fuzzer thinks invalid: {expect}")
        shape = lowered_shape(geo, case.layout)
        if 0 in shape:
            ref = np.zeros(shape)
        elif huge(geo):
            ref = im2col_taps_ref(x64, geo, case.layout)
        else:
            ref = im2col_ref(x64, (geo["r"], geo["s"]), stride=geo["stride"], padding=geo["pad"],
                             dilation=geo["dil"], layout=case.layout)
        check_values(o.result, ref, np.zeros(ref.shape), dt, o.backend, "im2col")  # a gather: exact

    run_all("im2col", case, case.call, expect, check, backends)


# Oracles of layers whose stride, padding or dilation are too large for the padded copies of
# tests/_conv_reference.py (a valid layer with a huge option has few output pixels): the taps of
# each output pixel found by index arithmetic in Python ints.

def huge(geo: dict) -> bool:
    return max(geo["pad"] + geo["stride"] + geo["dil"] + (geo["r"], geo["s"])) > 4096


def _taps(geo: dict):
    """(oh, ow, r, s, ih, iw) of every tap that lands inside the image."""
    (sh, sw), (dh, dw), (pt, _, pl, _) = geo["stride"], geo["dil"], geo["pad"]
    for oh in range(geo["ho"]):
        for ow in range(geo["wo"]):
            for ri in range(geo["r"]):
                ih = oh * sh - pt + ri * dh
                for si in range(geo["s"]):
                    iw = ow * sw - pl + si * dw
                    if 0 <= ih < geo["h"] and 0 <= iw < geo["w"]:
                        yield oh, ow, ri, si, ih, iw


def conv_taps_ref(vals: dict, geo: dict, layout: str, activation: Optional[str], dt: np.dtype):
    """(reference, bound) as conv2d_ref_and_bound, tap by tap."""
    x = vals["x"] if layout == "NCHW" else vals["x"].transpose(0, 3, 1, 2)
    w, g = vals["w"], geo["g"]
    k, cg = w.shape[:2]
    kg = k // g
    y = np.zeros((geo["n"], k, geo["ho"], geo["wo"]))
    mag = np.zeros_like(y)
    for oh, ow, ri, si, ih, iw in _taps(geo):
        for gi in range(g):
            xs, ws = x[:, gi * cg:(gi + 1) * cg, ih, iw], w[gi * kg:(gi + 1) * kg, :, ri, si]
            y[:, gi * kg:(gi + 1) * kg, oh, ow] += xs @ ws.T
            mag[:, gi * kg:(gi + 1) * kg, oh, ow] += np.abs(xs) @ np.abs(ws).T
    ch = (1, k, 1, 1)
    if vals["bias"] is not None:
        y, mag = y + vals["bias"].reshape(ch), mag + np.abs(vals["bias"]).reshape(ch)
    if vals["scale"] is not None:
        y, mag = y * vals["scale"].reshape(ch), mag * np.abs(vals["scale"]).reshape(ch)
    if vals["shift"] is not None:
        y, mag = y + vals["shift"].reshape(ch), mag + np.abs(vals["shift"]).reshape(ch)
    if vals.get("residual") is not None:
        r = vals["residual"] if layout == "NCHW" else vals["residual"].transpose(0, 3, 1, 2)
        y, mag = y + r, mag + np.abs(r)
    if activation:
        y = np.maximum(y, 0.0) if activation == "relu" else np.clip(y, 0.0, 6.0)
    bound = (2 * cg * geo["r"] * geo["s"] + 8) * EPS[dt] * mag
    if layout == "NHWC":
        y, bound = y.transpose(0, 2, 3, 1), bound.transpose(0, 2, 3, 1)
    return y, bound


def conv_reach(vals: dict, geo: dict, layout: str, bound: np.ndarray, dt: np.dtype) -> Optional[np.ndarray]:
    """check_values' `reach` for a convolution: the bound's magnitude (|scale| (|x| conv |w| + |bias|)
    + |shift| + |residual|), and that over |scale| too, since the sum may run before the per-channel
    scale or on weights it was folded into (a zero scale: any overflowed sum stays non-finite)."""
    kd = geo["c"] // geo["g"] * geo["r"] * geo["s"]
    if not may_overflow(dt, kd, vals["x"], vals["w"]):
        return None
    mag = bound / ((2 * kd + 8) * EPS[dt])
    if vals["scale"] is not None:
        ch = (1, -1, 1, 1) if layout == "NCHW" else (1, 1, 1, -1)
        with np.errstate(divide="ignore", invalid="ignore"):
            mag = np.maximum(mag, mag / np.abs(vals["scale"]).reshape(ch))
    return mag


def lowered_shape(geo: dict, layout: str) -> Tuple[int, int, int]:
    """im2col's result: (N, C*R*S, Ho*Wo) for NCHW, (N, Ho*Wo, R*S*C) for NHWC."""
    kd, pix = geo["c"] * geo["r"] * geo["s"], geo["ho"] * geo["wo"]
    return (geo["n"], kd, pix) if layout == "NCHW" else (geo["n"], pix, kd)


def im2col_taps_ref(x64: np.ndarray, geo: dict, layout: str) -> np.ndarray:
    """im2col_ref, tap by tap."""
    x = x64 if layout == "NCHW" else x64.transpose(0, 3, 1, 2)
    n, c = x.shape[:2]
    cols = np.zeros((n, c, geo["r"], geo["s"], geo["ho"], geo["wo"]))
    for oh, ow, ri, si, ih, iw in _taps(geo):
        cols[:, :, ri, si, oh, ow] = x[:, :, ih, iw]
    pix = geo["ho"] * geo["wo"]
    if layout == "NCHW":
        return cols.reshape(n, c * geo["r"] * geo["s"], pix)
    return cols.transpose(0, 4, 5, 2, 3, 1).reshape(n, pix, geo["r"] * geo["s"] * c)


RUNNERS = {GemmCase: run_gemm, MatmulCase: run_matmul, ConvCase: run_conv, Im2colCase: run_im2col}


def replay(case: Any, backends=None) -> None:
    """Rerun a logged or reported case: `replay(GemmCase(...))`, optionally on some backends only."""
    RUNNERS[type(case)](case, backends)


# ------------------------------------------------------------------------------------------------
# Strategies. Hypothesis shrinks towards the first choice of each sampled_from / the low end of
# each integer range, so the first choice is always the plain one (C order, float64, no flags).
# ------------------------------------------------------------------------------------------------

GOOD_DTYPES = ("float64", "float32")
BAD_DTYPES = ("float16", "int32", "complex64", "bool", "object", ">f4", ">f8")


def rare(p: int = 10):
    """True about 1 time in p; shrinks to False."""
    return st.integers(0, p - 1).map(lambda i: i == p - 1)


@st.composite
def dtypes(draw, bad: int = 8) -> str:
    if draw(rare(bad)):
        return draw(st.sampled_from(BAD_DTYPES))
    return draw(st.sampled_from(GOOD_DTYPES))


@st.composite
def arrays(draw, shape, dtype: str, role: str = "in") -> A:
    """An A (an ndarray) of this shape and dtype in one of many memory layouts; role "out" makes
    read-only ones likelier. Array-likes (lists, __array__ objects): array_like_cases."""
    shape = tuple(int(n) for n in shape)
    nd = len(shape)
    seed = draw(st.integers(0, 2**16))
    if dtype == "object":
        return A(shape, dtype, seed=seed)
    item = np.dtype(dtype).itemsize
    layout = draw(st.sampled_from(("C", "F", "perm", "step", "pad", "strides")))
    kw: Dict[str, Any] = {}
    if layout == "F" and nd > 1:
        kw["perm"] = tuple(range(nd))[::-1]
    elif layout == "perm" and nd > 1:
        kw["perm"] = tuple(draw(st.permutations(range(nd))))
    elif layout == "step" and nd:
        kw["step"] = tuple(draw(st.sampled_from((1, -1, 2, -2, 3))) for _ in range(nd))
        if nd > 1 and draw(st.booleans()):
            kw["perm"] = tuple(draw(st.permutations(range(nd))))
        if draw(st.booleans()):  # a row one element short: np.zeros((13, 129))[:, ::2] (or overlapping rows)
            kw["pad"] = draw(st.sampled_from((-1, 1, 2)))
    elif layout == "pad" and nd:
        kw["pad"] = draw(st.integers(1, 9))
    elif layout == "strides" and nd:
        nat = [1] * nd
        for i in range(nd - 2, -1, -1):
            nat[i] = nat[i + 1] * max(shape[i + 1], 1)
        choice = [draw(st.sampled_from(("keep", "zero", "neg", "double", "one", "half"))) for _ in range(nd)]
        kw["strides"] = tuple(
            {"keep": s, "zero": 0, "neg": -s, "double": 2 * s, "one": 1, "half": max(s // 2, 1)}[c] for s, c in zip(nat, choice)
        )
    if draw(rare(8)):
        kw["misalign"] = draw(st.integers(1, max(item - 1, 1))) if item > 1 else 0
    if nd and item > 1 and draw(rare(40)):
        kw["skew"] = draw(st.integers(1, item - 1))
    if draw(rare(30 if role == "in" else 15)):
        kw["readonly"] = True
    if draw(rare(5)):
        kw["values"] = "ints"
    return A(shape, dtype, seed=seed, **{k: v for k, v in kw.items() if v})


DIMS = (1, 2, 3, 0, 4, 5, 7, 8, 13, 16, 17, 31, 33, 64, 65, 97, 130)
SMALL = (1, 2, 3, 0, 4, 5, 6, 7)


def dim(choices=DIMS):
    return st.sampled_from(choices)


GOOD_SCALARS = (1.0, 0.0, 1, 0, -1.0, 0.5, -0.0, 2, np.float32(1.5), np.float64(-0.25), np.int64(3),
                fractions.Fraction(1, 3))
BAD_SCALARS = (True, False, np.bool_(True), "1", 10**400, -(10**400), 1j, complex(1, 0), None,
               decimal.Decimal("1.5"), np.complex64(1), np.array(1.0), np.array([1.0]), [1.0])


@st.composite
def scalars(draw, bad: int = 15):
    if draw(rare(bad)):
        return draw(st.sampled_from(BAD_SCALARS))
    if draw(st.booleans()):
        return draw(st.sampled_from(GOOD_SCALARS))
    return draw(st.floats(-2.0, 2.0, allow_nan=False, width=32))


@st.composite
def output_specs(draw, shape, dtype: str, role_names=()):
    """An output: usually an array of the right shape and dtype in any layout; sometimes with a
    wrong dtype or shape, a list, or the very same object as one of `role_names` / placed inside
    its memory."""
    r = draw(st.integers(0, 19))
    if r == 19 and role_names:
        return draw(st.sampled_from(role_names))  # out is that operand
    if r == 18:
        return A(tuple(shape), "float64", kind="list")
    if r == 17:
        shape = tuple(n + 1 for n in shape)
    if r == 16:
        dtype = draw(st.sampled_from(("float32", "float64", "float16", "int32", ">f4")))
    spec = draw(arrays(shape, dtype, role="out"))
    if r == 15 and role_names:
        target = draw(st.sampled_from(role_names))
        spec = dataclasses.replace(spec, near=(target, draw(st.integers(-2, 2))), misalign=0)
    return spec


@st.composite
def gemm_cases(draw) -> GemmCase:
    dt = draw(dtypes())
    m, n, k = draw(dim()), draw(dim()), draw(dim())
    if draw(rare(12)):  # beyond 160^3 with <= 128 columns in one orientation: gemm.cpp's unpacked row blocks
        m, n, k = draw(st.sampled_from(((64, 700, 97), (700, 64, 97), (100, 517, 130))))
    ta, tb = draw(st.booleans()), draw(st.booleans())
    sa = (k, m) if ta else (m, k)
    sb = (n, k) if tb else (k, n)
    if draw(rare(20)):  # a shape that does not fit, or a wrong rank
        sb = draw(st.sampled_from((tuple(x + 1 for x in sb), sb + (1,), sb[:1])))
    a = draw(arrays(sa, dt))
    b = draw(arrays(sb, dt if not draw(rare(12)) else draw(dtypes(bad=2))))
    alpha = draw(scalars())
    if alpha == 0 and not isinstance(alpha, (bool, np.bool_, np.ndarray)) and draw(st.booleans()):
        a = dataclasses.replace(a, values="nan")  # alpha == 0: a is never read
    c_kind = draw(st.sampled_from(("array", "none", "array", "array", "a")))
    c = None
    if c_kind == "array":
        c = draw(output_specs((m, n), dt, ("a", "b")))
    elif c_kind == "a":
        c = "a"
    # beta != 0 needs a c: without one, beta is 0 but for the odd case that checks it
    beta = draw(scalars()) if c is not None or draw(rare(10)) else draw(st.sampled_from((0.0, 0, -0.0)))
    if isinstance(c, A) and c.kind == "ndarray" and draw(st.booleans()):
        try:
            zero = float(beta) == 0
        except (TypeError, ValueError, OverflowError):
            zero = False
        if zero:
            c = dataclasses.replace(c, values="nan")  # beta == 0: c is never read
    out_kind = draw(st.sampled_from(("none", "array", "c")))
    out = None
    if out_kind == "array":
        out = draw(output_specs((m, n), dt, ("a", "b") + (("c",) if isinstance(c, A) else ())))
    elif out_kind == "c" and c is not None:
        out = "c"
    return GemmCase(a, b, c, out, alpha, beta, ta, tb)


def _device_spec(sp: Any) -> Any:
    """An A that a pyopencl array can view: an ndarray of a dtype OpenCL has, strides >= 0, no
    read-only flag (device arrays have none)."""
    if not isinstance(sp, A):
        return sp
    dtype = sp.dtype if sp.dtype in ("float32", "float64", "float16", "int32") else "float64"
    kw = dict(kind="ndarray", dtype=dtype, readonly=False)
    if sp.strides is not None:
        kw["strides"] = tuple(abs(x) for x in sp.strides)
    if sp.step is not None:
        kw["step"] = tuple(abs(x) for x in sp.step)
    return dataclasses.replace(sp, **kw)


@st.composite
def device_gemm_cases(draw) -> GemmCase:
    """gemm_cases on arrays a pyopencl array can view (outputs that are lists: kept, a TypeError)."""
    case = draw(gemm_cases())
    out = case.out if isinstance(case.out, A) and case.out.kind == "list" else _device_spec(case.out)
    return dataclasses.replace(case, a=_device_spec(case.a), b=_device_spec(case.b), c=_device_spec(case.c), out=out)


ARRAY_LIKES = ("list", "protocol", "memoryview", "raising")
_INPUTS = {GemmCase: ("a", "b"), MatmulCase: ("a", "b"), ConvCase: ("x", "w", "bias"), Im2colCase: ("x",)}


@st.composite
def array_like_cases(draw) -> Any:
    """A case of any operation with one or two of its inputs passed as array-likes: nested lists,
    objects with __array__ (one that returns an array, one that raises), memoryviews. Kept apart
    from the other tests: a crash here (hpc_kernels._cpu on a raising __array__) ends only this one."""
    case = draw(st.one_of(gemm_cases(), matmul_cases(), conv_cases(), conv_cases(plan=True), im2col_cases()))
    names = [n for n in _INPUTS[type(case)] if isinstance(getattr(case, n), A)]
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))
    new = {}
    for n in chosen:
        sp = getattr(case, n)
        kind = draw(st.sampled_from(ARRAY_LIKES))
        dtype = sp.dtype if sp.dtype != "object" and (kind != "list" or sp.dtype == "float64") else "float64"
        new[n] = A(sp.shape, dtype, kind=kind, seed=sp.seed)
    return dataclasses.replace(case, **new)


@st.composite
def matmul_cases(draw) -> MatmulCase:
    dt = draw(dtypes())
    m, n, k = draw(dim(SMALL + (16, 33))), draw(dim(SMALL + (16, 33))), draw(dim(SMALL + (16, 33)))
    batch_a = tuple(draw(st.lists(st.sampled_from((1, 2, 3, 0)), max_size=3)))
    batch_b = list(batch_a[len(batch_a) - draw(st.integers(0, len(batch_a))):])
    batch_b = tuple(1 if draw(rare(3)) else x for x in batch_b)  # broadcast some axes
    if draw(st.booleans()):
        batch_a, batch_b = batch_b, batch_a
    sa = (k,) if draw(rare(6)) else batch_a + (m, k)
    sb = (k,) if draw(rare(6)) else batch_b + (k, n)
    if draw(rare(20)):
        sa = draw(st.sampled_from(((), sa[:-1] + (sa[-1] + 1,))))
    a = draw(arrays(sa, dt))
    b = draw(arrays(sb, dt if not draw(rare(12)) else draw(dtypes(bad=2))))
    out = None
    if draw(st.booleans()):
        try:
            shape = np.matmul(np.empty(sa, np.int8), np.empty(sb, np.int8)).shape
        except ValueError:
            shape = (m, n)
        out = draw(output_specs(shape, dt, ("a", "b")))
    return MatmulCase(a, b, out)


GOOD_INTS = (1, 2, 3)
BAD_INTS = (0, -1, 2**63, 2**62, 2**31, True, 1.5, "1", None, np.int64(2), (1,), (1, 2, 3), (1, True))


@st.composite
def int_options(draw, bad: int = 12, lo_ok=GOOD_INTS):
    if draw(rare(bad)):
        return draw(st.sampled_from(BAD_INTS))
    if draw(rare(3)):
        return (draw(st.sampled_from(lo_ok)), draw(st.sampled_from(lo_ok)))
    return draw(st.sampled_from(lo_ok))


@st.composite
def paddings(draw, bad: int = 12):
    if draw(rare(bad)):
        return draw(st.sampled_from((-1, "full", (1, 2, 3), 2**62, 2**63, True, 1.5, (0, -1))))
    form = draw(st.sampled_from(("int", "pair", "four", "same", "valid")))
    p = st.integers(0, 3)
    return {"int": lambda: draw(p), "pair": lambda: (draw(p), draw(p)),
            "four": lambda: (draw(p), draw(p), draw(p), draw(p)), "same": lambda: "same", "valid": lambda: "valid"}[form]()


@st.composite
def vectors(draw, k: int, dt: str):
    """bias/scale/shift: None, an array of K values in any layout, a list, or a bad one."""
    r = draw(st.integers(0, 9))
    if r <= 5:
        return None
    if r == 9 and draw(st.booleans()):
        return draw(st.sampled_from((A((k + 1,), dt), A((k,), "float16" if dt != "float16" else "float32"),
                                     A((k, 1), dt), A((k,), "float64", kind="list"), A((k,), "float64", kind="raising"))))
    return draw(arrays((k,), dt))


@st.composite
def conv_cases(draw, plan: bool = False) -> ConvCase:
    dt = draw(dtypes(bad=12))
    layout = draw(st.sampled_from(("NCHW", "NHWC"))) if not draw(rare(40)) else "NCWH"
    g = draw(st.sampled_from((1, 1, 2, 3)))
    wide = draw(rare(5))  # the direct kernels' channel thresholds (>= 16 per group)
    cg = draw(st.sampled_from((16, 17) if wide else (1, 2, 3, 0, 4, 8)))
    kg = draw(st.sampled_from((1, 2, 3, 0, 4, 7, 8) if not wide else (6, 8)))
    depthwise = draw(rare(6))
    if depthwise:
        cg, kg = 1, 1
        g = draw(st.sampled_from((1, 2, 3, 5, 8)))
    n = draw(st.sampled_from((1, 2, 0, 3)))
    r, s = draw(st.sampled_from((1, 3, 2, 5))), draw(st.sampled_from((1, 3, 2, 4)))
    h, w = draw(st.integers(1, 14)), draw(st.integers(1, 14))
    groups = g if not draw(rare(12)) else draw(st.sampled_from(BAD_INTS + (4,)))
    stride = draw(int_options())
    dilation = draw(int_options(lo_ok=(1, 2)))
    padding = draw(paddings())
    if padding == "same" and not draw(rare(4)):
        stride = 1
    c, k = cg * g, kg * g
    xs = (n, c, h, w) if layout != "NHWC" else (n, h, w, c)
    ws = (k, cg, r, s)
    if draw(rare(20)):
        ws = draw(st.sampled_from(((k, cg + 1, r, s), (k, cg, r), (k, cg, 0, s))))
    x = draw(arrays(xs, dt))
    if draw(rare(8)) and x.kind == "ndarray":  # one image broadcast over the batch: batch stride 0
        x = dataclasses.replace(x, strides=(0,) + tuple(int(np.prod(xs[i + 1:])) for i in range(1, 4)), perm=None,
                                step=None, pad=0)
    wdt = dt if not draw(rare(15)) else draw(dtypes(bad=2))
    wspec = draw(arrays(ws, wdt))
    bias, scale, shift = draw(vectors(k, dt)), draw(vectors(k, dt)), draw(vectors(k, dt))
    activation = draw(st.sampled_from((None, "relu", "relu6"))) if not draw(rare(40)) else "gelu"
    algorithm = draw(st.sampled_from(("auto", "im2col", "convgemm", "direct", "gemm", "winograd"))) if not draw(rare(40)) else "fft"
    out = None
    if draw(st.booleans()):
        e = Expect()
        geo = ConvCase(None, None, stride=stride, padding=padding, dilation=dilation, groups=groups,
                       layout=layout).geometry(e, xs, ws)
        small = geo is not None and max(geo["out_shape"]) <= 4096
        oshape = geo["out_shape"] if small else (n, k, h, w)  # a huge output is not built (it is refused)
        out = draw(output_specs(oshape, dt, ("x", "w") + (("bias",) if isinstance(bias, A) and bias.kind == "ndarray" else ())))
    residual = None
    if draw(rare(4)):
        residual = draw(residual_specs(xs, ws, stride, padding, dilation, groups, layout, dt, out))
    return ConvCase(x, wspec, bias, scale, shift, stride, padding, dilation, groups, layout, activation, algorithm, out,
                    plan=plan, mutate=plan and draw(st.booleans()), residual=residual)


@st.composite
def residual_specs(draw, xs, ws, stride, padding, dilation, groups, layout, dt, out):
    """A residual: usually an array of the output's shape and dtype in any layout; sometimes out
    itself, a wrong dtype or shape, or an array placed inside out's memory."""
    if isinstance(out, A) and draw(rare(4)):
        return "out"
    geo = ConvCase(None, None, stride=stride, padding=padding, dilation=dilation, groups=groups,
                   layout=layout).geometry(Expect(), xs, ws)
    shape = geo["out_shape"] if geo is not None and max(geo["out_shape"]) <= 4096 else (1, 1, 1, 1)
    r = draw(st.integers(0, 11))
    if r == 11:
        dt = draw(st.sampled_from(("float32", "float64", "float16", "int32")))
    if r == 10:
        shape = tuple(n + 1 for n in shape)
    spec = draw(arrays(shape, dt))
    if r == 9 and isinstance(out, A):
        spec = dataclasses.replace(spec, near=("out", draw(st.integers(-2, 2))), misalign=0)
    return spec


@st.composite
def im2col_cases(draw) -> Im2colCase:
    dt = draw(dtypes(bad=12))
    layout = draw(st.sampled_from(("NCHW", "NHWC")))
    n, c = draw(st.sampled_from((1, 2, 0))), draw(st.sampled_from((1, 2, 3, 0, 5)))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    xs = (n, c, h, w) if layout == "NCHW" else (n, h, w, c)
    if draw(rare(20)):
        xs = xs[:3]
    ks = draw(int_options(lo_ok=(1, 2, 3)))
    return Im2colCase(draw(arrays(xs, dt)), ks, draw(int_options()), draw(paddings()), draw(int_options(lo_ok=(1, 2))), layout)
