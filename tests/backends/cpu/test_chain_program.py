"""hpc_kernels._cpu.ChainProgram (csrc/bindings/conv_chain_entry.cpp): conv2d_chain with the steps
parsed once and each step's checks kept while its arrays are the same memory in the same shapes.
Whatever changes between runs (new input or output arrays, another buffer, a misaligned input
that is copied, a read-only or overlapping output, another shape, another thread) the program
gives conv2d_chain's results bit for bit and raises what conv2d_chain raises: a kept check is
never applied to arrays it was not made for."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hpc_kernels
from hpc_kernels.backends.cpu import _cpu
from hpc_kernels.onnx.ops.fused import _cpu_step

from _helpers import run_in_threads


def _chain(rng, c=8, e=24, h=9, w=7):
    """expand 1x1 -> depthwise 3x3 -> project 1x1 + the input (a residual read from arrays[0]),
    NHWC; returns (steps, fresh arrays for an input of shape (1, h, w, c))."""
    plans = []
    for cin, k, r, g, act in ((c, e, 1, 1, "relu6"), (e, e, 3, e, "relu6"), (e, c, 1, 1, None)):
        wt = (rng.standard_normal((k, cin // g, r, r)) / np.sqrt(cin // g * r * r)).astype(np.float32)
        plans.append(hpc_kernels.Conv2d(wt, bias=(rng.standard_normal(k) * 0.1).astype(np.float32), padding=r // 2,
                                        groups=g, layout="NHWC", activation=act, backend="cpu"))
    steps, shape = [], (1, h, w, c)
    for j, plan in enumerate(plans):
        packed, stride, pad, dil, algo = _cpu_step(plan, shape, np.dtype(np.float32))
        steps.append((packed, j, j + 1, 0 if j == 2 else -1, stride, pad, dil, algo))
        shape = shape[:3] + (plan.weight_shape[0],)

    def arrays(x):
        n, hh, ww, _ = x.shape
        return [x, np.empty((n, hh, ww, e), np.float32), np.empty((n, hh, ww, e), np.float32), np.empty((n, hh, ww, c), np.float32)]

    return steps, arrays


def _x(seed, h=9, w=7, c=8):
    return np.random.default_rng(seed).standard_normal((1, h, w, c)).astype(np.float32)


def _expected(steps, arrays, x):
    a = arrays(x.copy())
    _cpu.conv2d_chain(steps, a, 0)
    return a[-1]


@pytest.mark.parametrize("band", [0, 1, -1])
def test_program_equals_conv2d_chain_run_after_run(band):
    """Same intermediates every run (the memo's case), new inputs and outputs each run."""
    steps, arrays = _chain(np.random.default_rng(0))
    prog = _cpu.ChainProgram(steps)
    a = arrays(_x(1))
    for seed in (1, 2, 3, 2):
        x = _x(seed)
        a[0], a[-1] = x, np.empty_like(a[-1])
        seconds = prog.run(a, band)
        assert len(seconds) == 3
        np.testing.assert_array_equal(a[-1], _expected(steps, arrays, x))


def test_program_follows_new_buffers_and_shapes():
    steps, arrays = _chain(np.random.default_rng(0))
    prog = _cpu.ChainProgram(steps)
    for h, w in ((9, 7), (9, 7), (5, 11), (9, 7)):
        x = _x(h * w, h, w)
        a = arrays(x)  # new intermediates too
        prog.run(a, 0)
        np.testing.assert_array_equal(a[-1], _expected(steps, arrays, x))


def test_program_copies_a_misaligned_input_every_run():
    """x not element-aligned: checked calls hold an aligned copy of this run's x, which no later
    run may reuse (the data changes between runs, the address does not)."""
    steps, arrays = _chain(np.random.default_rng(0))
    prog = _cpu.ChainProgram(steps)
    raw = np.zeros(9 * 7 * 8 * 4 + 1, np.uint8)
    x = np.frombuffer(raw.data, dtype=np.float32, count=9 * 7 * 8, offset=1).reshape(1, 9, 7, 8)
    assert x.ctypes.data % 4
    a = arrays(_x(0))
    for seed in (4, 5):
        x[...] = _x(seed)
        a[0] = x
        prog.run(a, 0)
        np.testing.assert_array_equal(a[-1], _expected(steps, arrays, _x(seed)))


def test_program_checks_what_changed():
    """A kept check does not cover an output made read-only, an output overlapping the input, a
    wrong shape or a non-array: each raises as conv2d_chain does."""
    steps, arrays = _chain(np.random.default_rng(0))
    prog = _cpu.ChainProgram(steps)
    a = arrays(_x(0))
    prog.run(a, 0)
    a[-1].flags.writeable = False
    with pytest.raises(ValueError, match="writ"):
        prog.run(a, 0)
    a[-1] = a[2][..., :8]  # overlaps the project step's own input
    with pytest.raises(ValueError, match="overlap"):
        prog.run(a, 0)
    a = arrays(_x(0))
    a[2] = np.empty((1, 9, 7, 23), np.float32)
    with pytest.raises(ValueError):
        prog.run(a, 0)
    a = arrays(_x(0))
    a[1] = list(a[1])
    with pytest.raises(TypeError, match="NumPy array"):
        prog.run(a, 0)
    a = arrays(_x(6))
    prog.run(a, 0)  # and it still runs once the arrays are right
    np.testing.assert_array_equal(a[-1], _expected(steps, arrays, _x(6)))


def test_program_runs_from_threads():
    """Threads running one program at once: one keeps its checks, the others check every step."""
    steps, arrays = _chain(np.random.default_rng(0))
    prog = _cpu.ChainProgram(steps)
    xs = [_x(10 + i) for i in range(4)]
    expect = [_expected(steps, arrays, x) for x in xs]
    bad = []

    def work(i):
        a = arrays(xs[i])
        for _ in range(20):
            a[-1] = np.empty_like(a[-1])
            prog.run(a, 0)
            if not np.array_equal(a[-1], expect[i]):
                bad.append(i)

    run_in_threads(work, 4)
    assert not bad


def test_bound_program_runs_inputs_into_new_outputs():
    """bind: the program's own intermediates, and the input and output shapes and dtypes (broadcast
    views); run_direct and run_feed accept only those inputs (None otherwise) and give a new output
    each run, conv2d_chain's bit for bit; run_feed's runs are counted in stats()."""
    steps, arrays = _chain(np.random.default_rng(0))
    prog = _cpu.ChainProgram(steps)
    for inputs in ([_x(1)], []):  # nothing bound
        assert prog.run_direct(inputs) is None
    assert prog.run_feed({"x": _x(1)}, "x") is None
    a = arrays(_x(0))
    like = [np.broadcast_to(np.empty((), np.float32), a[0].shape)] + a[1:-1] + [np.broadcast_to(np.empty((), np.float32), a[-1].shape)]
    assert prog.bind(like, 1)
    outs = []
    for seed in (1, 2):
        out, seconds = prog.run_direct([_x(seed)])
        assert len(seconds) == 3
        np.testing.assert_array_equal(out, _expected(steps, arrays, _x(seed)))
        outs.append(out)
    out = prog.run_feed({"x": _x(3)}, "x")
    np.testing.assert_array_equal(out, _expected(steps, arrays, _x(3)))
    assert not np.may_share_memory(outs[0], outs[1]) and not np.may_share_memory(out, outs[1])
    runs, total, per_step = prog.stats()
    assert runs == 1 and total >= sum(per_step) > 0 and len(per_step) == 3
    for bad in ([_x(1, 9, 8)], [_x(1).astype(np.float64)], [np.asfortranarray(_x(1))], [_x(1), _x(2)], [[0.0]]):
        assert prog.run_direct(bad) is None
    assert prog.run_feed({"y": _x(1)}, "x") is None and prog.run_feed({"x": _x(1), "y": _x(1)}, "x") is None
    assert prog.stats()[0] == 1


def test_program_keeps_no_reference_to_the_callers_arrays():
    """With n_inputs given, the steps that read the inputs or write the output keep no checks (which
    hold their arrays), and a direct run lets go of its input and output: after a run, the caller's
    arrays are freed as soon as the caller drops them."""
    import gc
    import weakref

    steps, arrays = _chain(np.random.default_rng(0))
    prog = _cpu.ChainProgram(steps, 1)
    a = arrays(_x(0))
    x, out = _x(1), np.empty_like(a[-1])
    a[0], a[-1] = x, out
    prog.run(a, 0)
    refs = [weakref.ref(x), weakref.ref(out)]
    a[0] = a[-1] = None
    del x, out
    gc.collect()
    assert all(r() is None for r in refs)
    like = [np.broadcast_to(np.empty((), np.float32), (1, 9, 7, 8))] + a[1:-1] + [np.broadcast_to(np.empty((), np.float32), (1, 9, 7, 8))]
    assert prog.bind(like, 1)
    x = _x(2)
    out, _ = prog.run_direct([x])
    np.testing.assert_array_equal(out, _expected(steps, arrays, _x(2)))
    refs = [weakref.ref(x), weakref.ref(out)]
    del x, out
    gc.collect()
    assert all(r() is None for r in refs)


_PROGRAM = {}


def _shared_program():
    """One program and its steps for every fuzz example (its kept checks carry over between them)."""
    if not _PROGRAM:
        steps, arrays = _chain(np.random.default_rng(0))
        _PROGRAM.update(steps=steps, arrays=arrays, prog=_cpu.ChainProgram(steps, 1), a={})
    return _PROGRAM


def _misaligned(x):
    raw = np.zeros(x.nbytes + 1, np.uint8)
    v = np.frombuffer(raw.data, dtype=x.dtype, count=x.size, offset=1).reshape(x.shape)
    v[...] = x
    return v


@settings(deadline=None)
@given(runs=st.lists(st.tuples(st.sampled_from([(9, 7), (5, 11), (1, 1)]), st.booleans(), st.booleans(),
                               st.sampled_from([0, 1, -1]), st.integers(0, 2**16)), min_size=1, max_size=4))
def test_fuzz_program_runs_equal_conv2d_chain(runs):
    """Runs of one program (kept checks carried across examples) with shapes, buffers, input
    alignment and band budgets changing between them: every output is conv2d_chain's bit for bit."""
    p = _shared_program()
    for (h, w), fresh, misaligned, band, seed in runs:
        x = _x(seed, h, w)
        a = p["a"].get((h, w))
        if a is None or fresh:
            a = p["a"][(h, w)] = p["arrays"](x)
        a[0] = _misaligned(x) if misaligned else x
        a[-1] = np.empty_like(a[-1])
        p["prog"].run(a, band)
        np.testing.assert_array_equal(a[-1], _expected(p["steps"], p["arrays"], x))
