"""Shared helpers of the test suite: error bounds, operand layouts, ISA and micro-kernel lists."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional, Tuple

import numpy as np

from hpc_kernels import _cpu

DTYPES = (np.float32, np.float64)
def dt_id(dt) -> str:
    """pytest id of a dtype parameter."""
    return np.dtype(dt).name


EPS = {np.dtype(np.float32): float(np.finfo(np.float32).eps), np.dtype(np.float64): float(np.finfo(np.float64).eps)}

# ISAs this build has AND this CPU runs, best first (the order of _cpu.info()).
_INFO = _cpu.info()
ISAS: List[str] = [i for i in _INFO["isas_built"] if i in _INFO["isas_supported"]]
UKERNELS: List[dict] = _cpu.ukernels()
RUNNABLE_UKERNELS: List[dict] = [u for u in UKERNELS if u["runnable"]]


def generic_ukernel(dtype) -> dict:
    """The portable micro-kernel of `dtype` (always built): the oracle of the micro-kernel tests."""
    name = np.dtype(dtype).name
    (u,) = [u for u in UKERNELS if u["dtype"] == name and u["isa"] == "generic"]
    return u


def block_info(dtype) -> Dict[str, int]:
    """MR/NR/MC/KC/NC of the engine currently configured for `dtype`."""
    return dict(_cpu.info()[np.dtype(dtype).name])


# --------------------------------------------------------------------------------------------
# Error bound
# --------------------------------------------------------------------------------------------

def gamma(k: int) -> int:
    """Constant of the netlib-style elementwise bound, growing with the inner dimension K:
    |C - Cref| <= (2*K + 4) * eps * (|alpha| |op(A)| |op(B)| + |beta| |C0|).
    2*K covers the K-term dot product (K roundings) plus the float64 reference's own error for
    float64 data; +4 covers the alpha scaling, the beta scaling, the final add and one spare."""
    return 2 * k + 4


def gemm_reference(opa, opb, c0, alpha: float, beta: float) -> Tuple[np.ndarray, np.ndarray]:
    """(Cref, bound) in float64 for C = alpha*opa@opb + beta*c0 (beta == 0: c0 not read)."""
    a64 = np.asarray(opa, dtype=np.float64)
    b64 = np.asarray(opb, dtype=np.float64)
    m, k = a64.shape
    n = b64.shape[1]
    dt = np.result_type(opa, opb)
    ref = np.zeros((m, n))
    mag = np.zeros((m, n))
    if alpha != 0 and k > 0:
        ref = alpha * (a64 @ b64)
        mag = abs(alpha) * (np.abs(a64) @ np.abs(b64))
    if beta != 0:
        c64 = np.asarray(c0, dtype=np.float64)
        ref = ref + beta * c64
        mag = mag + abs(beta) * np.abs(c64)
    return ref, gamma(k) * EPS[np.dtype(dt)] * mag


def assert_within_bound(got, ref, bound, what: str = "") -> None:
    got64 = np.asarray(got, dtype=np.float64)
    assert got64.shape == ref.shape, f"{what}: shape {got64.shape} != {ref.shape}"
    err = np.abs(got64 - ref)
    bad = ~(err <= bound)  # NaN counts as bad
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(
            f"{what}: {int(bad.sum())} element(s) outside the bound; first at {idx}: "
            f"got {got64[idx]!r}, expected {ref[idx]!r}, |err| {err[idx]!r} > bound {bound[idx]!r}"
        )


def check_gemm(got, a, b, c0, alpha, beta, trans_a=False, trans_b=False, what: str = "") -> None:
    """Assert `got` is alpha*op(a)@op(b) + beta*c0 within the bound, with the inputs' dtype."""
    opa = a.T if trans_a else a
    opb = b.T if trans_b else b
    assert got.dtype == a.dtype, f"{what}: result dtype {got.dtype}, expected {a.dtype}"
    ref, bound = gemm_reference(opa, opb, c0, alpha, beta)
    assert_within_bound(got, ref, bound, what)


# --------------------------------------------------------------------------------------------
# Operands in many memory layouts
# --------------------------------------------------------------------------------------------

def rand(rng: np.random.Generator, shape, dtype) -> np.ndarray:
    return rng.uniform(-1.0, 1.0, size=shape).astype(dtype)


def small_ints(rng: np.random.Generator, shape, dtype, lo: int = -3, hi: int = 3) -> np.ndarray:
    """Integer-valued floats: sums of products of these are exact in float32 up to large K."""
    return rng.integers(lo, hi + 1, size=shape).astype(dtype)


# A layout makes an (r, c) view with given values; returns (view, base). base is the array that
# owns the memory: elements of base outside the view must never be touched by a write to the view.
LAYOUTS = ("C", "F", "strided", "neg", "sub", "rows2", "negF")


def in_layout(values: np.ndarray, layout: str, fill: float = 0.0) -> Tuple[np.ndarray, np.ndarray]:
    r, c = values.shape
    dt = values.dtype
    if layout == "C":
        base = np.array(values, order="C", copy=True)  # always a copy: never alias `values`
        return base, base
    if layout == "F":
        base = np.array(values, order="F", copy=True)
        return base, base
    if layout == "strided":  # non-unit strides in both dimensions
        base = np.full((2 * r + 1, 3 * c + 2), fill, dtype=dt)
        view = base[1::2, 2::3][:r, :c]
    elif layout == "neg":  # negative strides in both dimensions
        base = np.full((r, c), fill, dtype=dt)
        view = base[::-1, ::-1]
    elif layout == "sub":  # interior block of a bigger C-order array (padded leading dimension)
        base = np.full((r + 3, c + 5), fill, dtype=dt)
        view = base[2 : 2 + r, 3 : 3 + c]
    elif layout == "rows2":  # a[::2]: every other row
        base = np.full((2 * r, c), fill, dtype=dt)
        view = base[::2]
    elif layout == "negF":  # Fortran order, columns reversed (unit row stride, negative column stride)
        base = np.full((r, c), fill, dtype=dt, order="F")
        view = base[:, ::-1]
    else:
        raise ValueError(layout)
    assert view.shape == (r, c)
    view[...] = values
    return view, base


def layout_of(rng, shape, dtype, layout: str, ints: bool = False, fill: float = 0.0):
    values = small_ints(rng, shape, dtype) if ints else rand(rng, shape, dtype)
    return in_layout(values, layout, fill)


# --------------------------------------------------------------------------------------------
# Subprocesses
# --------------------------------------------------------------------------------------------

def run_python(args: List[str], env_extra: Optional[Dict[str, str]] = None, env_drop=(), timeout: float = 120):
    """Run `python <args>` with the test interpreter; returns the CompletedProcess (text)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERNELS_") and k not in env_drop}
    env.update(env_extra or {})
    # cwd outside the repository: from its root, `python -c` / `-m` would import the source tree
    # (no compiled extension) instead of the installed package.
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout,
        cwd=tempfile.gettempdir(),
    )


def python_code(code: str, env_extra: Optional[Dict[str, str]] = None, **kw):
    return run_python(["-c", code], env_extra, **kw)



def run_in_threads(work, n: int) -> None:
    """Runs work(i) for i in range(n) on n threads at once and re-raises the first exception one of
    them raised (a thread's exception would otherwise only be printed, and the test pass)."""
    import threading

    errors: List[BaseException] = []

    def guarded(i: int) -> None:
        try:
            work(i)
        except BaseException as exc:  # noqa: BLE001 (re-raised in the calling thread)
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


# The layouts the fuzzers give x, residuals and outputs besides a fresh array (layout_view).
VIEWS = ("contiguous", "channel-slice", "w-step", "reversed-channels", "odd-w")


def layout_view(a: np.ndarray, kind: str, layout: str, fill):
    """(view, memory): a view of new memory holding a's values (`fill` around them) in the layout
    `kind` names; "odd-w" (W of one element given a stride of 7 elements) only where W is 1, else
    contiguous."""
    cax, wax = (1, 3) if layout == "NCHW" else (3, 2)
    if kind == "channel-slice":
        shape = list(a.shape)
        shape[cax] += 5
        mem = np.full(shape, fill, a.dtype)
        sl = [slice(None)] * 4
        sl[cax] = slice(2, 2 + a.shape[cax])
        v = mem[tuple(sl)]
    elif kind == "w-step":
        shape = list(a.shape)
        shape[wax] *= 2
        mem = np.full(shape, fill, a.dtype)
        sl = [slice(None)] * 4
        sl[wax] = slice(None, None, 2)
        v = mem[tuple(sl)]
    elif kind == "reversed-channels":
        mem = np.full(a.shape, fill, a.dtype)
        sl = [slice(None)] * 4
        sl[cax] = slice(None, None, -1)
        v = mem[tuple(sl)]
    elif kind == "odd-w" and a.shape[wax] == 1:
        mem = np.full(a.size + 64, fill, a.dtype)
        st = list(np.empty(a.shape, a.dtype).strides)
        st[wax] = 7 * a.itemsize
        v = np.lib.stride_tricks.as_strided(mem, a.shape, st)
    else:
        mem = v = np.full(a.shape, fill, a.dtype)
    v[...] = a
    return v, mem
