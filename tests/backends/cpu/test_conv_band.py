"""Banded runs of a conv2d_chain (csrc/conv/conv_band.hpp): consecutive NHWC layers, each reading
only the one before, computed band by band of the last layer's rows. The result must be the
step-by-step chain's bit for bit (the same kernels on the same values, only fewer rows per call)
and the float64 reference's within the K-scaled bound, whatever the band height, image, batch,
stride, dilation, padding and thread count; runs that must not be banded (an output overlapping
what the run reads, a residual made inside it) run step by step."""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels
from hpc_kernels.backends.cpu import _cpu
from hpc_kernels.onnx.ops.fused import _cpu_step


def _plan(rng, c, k, r, groups=1, stride=1, dilation=1, act="relu6", dtype=np.float32, pad=None):
    w = rng.standard_normal((k, c // groups, r, r)) / np.sqrt(c // groups * r * r)
    b = rng.standard_normal(k) * 0.1
    p = dilation * (r - 1) // 2 if pad is None else pad
    plan = hpc_kernels.Conv2d(w.astype(dtype), bias=b.astype(dtype), stride=stride, padding=p, dilation=dilation,
                              groups=groups, layout="NHWC", activation=act, backend="cpu")
    return plan, (w, b, stride, p, dilation, groups, act)


def _reference(x, spec, residual=None):
    w, b, stride, p, dil, groups, act = spec
    y = hpc_kernels.conv2d(x.astype(np.float64), w, bias=b, stride=stride, padding=p, dilation=dil, groups=groups,
                           layout="NHWC", backend="reference", residual=residual)
    if act == "relu6":
        y = np.clip(y, 0, 6)
    elif act == "relu":
        y = np.maximum(y, 0)
    return y


def _block(rng, c, t, k, r=3, stride=1, dilation=1, dtype=np.float32, residual=True):
    """expand 1x1 -> depthwise r x r -> project 1x1 (+ the block's input): MobileNetV2's block."""
    e = c * t
    layers = [_plan(rng, c, e, 1, dtype=dtype),
              _plan(rng, e, e, r, groups=e, stride=stride, dilation=dilation, dtype=dtype),
              _plan(rng, e, k, 1, act=None, dtype=dtype)]
    return layers, residual and stride == 1 and c == k


def _out_shape(xs, plan, stride, pad, dil):
    n, h, w, _ = xs
    k, _, r, s = plan.weight_shape
    ho = (h + pad[0] + pad[1] - dil[0] * (r - 1) - 1) // stride[0] + 1
    wo = (w + pad[2] + pad[3] - dil[1] * (s - 1) - 1) // stride[1] + 1
    return (n, ho, wo, k)


def _run(layers, x, with_residual, band_bytes, extra_steps=()):
    """The chain through _cpu.conv2d_chain; arrays: x, the intermediates, the output."""
    shapes, steps, arrays = [x.shape], [], [x]
    for j, (plan, _) in enumerate(layers):
        packed, stride, pad, dil, algo = _cpu_step(plan, shapes[-1], x.dtype)
        y = np.empty(_out_shape(shapes[-1], plan, stride, pad, dil), x.dtype)
        shapes.append(y.shape)
        arrays.append(y)
        res = 0 if (with_residual and j == len(layers) - 1) else -1
        steps.append((packed, j, j + 1, res, stride, pad, dil, algo))
    seconds = _cpu.conv2d_chain(steps + list(extra_steps), arrays, band_bytes)
    return arrays[-1], seconds


def _expected(layers, x, with_residual):
    v = x
    for j, (_, spec) in enumerate(layers):
        v = _reference(v, spec, residual=x.astype(np.float64) if with_residual and j == len(layers) - 1 else None)
    return v


def _bound(layers, x, y):
    k = max(spec[0][0].size for _, spec in layers) * len(layers)
    eps = np.finfo(x.dtype).eps
    return 8 * k * eps * max(1.0, float(np.abs(y).max()))


@pytest.mark.parametrize("stride,dilation", [(1, 1), (2, 1), (1, 2)])
@pytest.mark.parametrize("n,h,w", [(1, 9, 7), (2, 16, 11), (1, 31, 5)])
@pytest.mark.parametrize("band_bytes", [1, 2000, 20000])
@pytest.mark.parametrize("threads", [1, 2])
def test_banded_block_matches_step_by_step_and_reference(stride, dilation, n, h, w, band_bytes, threads):
    rng = np.random.default_rng(h * 7 + stride)
    layers, res = _block(rng, 8, 3, 8, stride=stride, dilation=dilation)
    x = rng.standard_normal((n, h, w, 8)).astype(np.float32)
    with hpc_kernels.num_threads(threads):
        plain, _ = _run(layers, x, res, 0)
        banded, seconds = _run(layers, x, res, band_bytes)
    np.testing.assert_array_equal(banded, plain)
    # Banded where an intermediate of one image outgrows the budget: the run's time under its last step.
    e = 8 * 3
    largest = max(h * w * e, ((h - 1) // stride + 1) * ((w - 1) // stride + 1) * e) * 4
    if largest > band_bytes:
        assert seconds[0] == seconds[1] == 0.0 < seconds[2]
    else:
        assert all(s > 0 for s in seconds)
    ref = _expected(layers, x, res)
    assert np.abs(banded - ref).max() <= _bound(layers, x, ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_banded_long_run_of_mixed_layers(dtype):
    """Two blocks back to back and a 3x3 convolution (im2col/convgemm/direct, chosen by auto), a 5x5
    depthwise with asymmetric reach: one banded run of seven layers at band heights 1 to all rows."""
    rng = np.random.default_rng(5)
    a, _ = _block(rng, 4, 4, 6, r=5, stride=2, dtype=dtype, residual=False)
    b, _ = _block(rng, 6, 2, 6, dtype=dtype, residual=False)
    layers = a + b + [_plan(rng, 6, 5, 3, act="relu", dtype=dtype)]
    x = rng.standard_normal((2, 23, 19, 4)).astype(dtype)
    plain, _ = _run(layers, x, False, 0)
    for band in (1, 500, 3000, 10**9 // 2):
        for threads in (1, 2):
            with hpc_kernels.num_threads(threads):
                banded, seconds = _run(layers, x, False, band)
            np.testing.assert_array_equal(banded, plain)
            if band < 10**8:
                assert seconds[:-1] == [0.0] * (len(layers) - 1)
    ref = _expected(layers, x, False)
    assert np.abs(plain - ref).max() <= _bound(layers, x, ref)


def test_small_intermediates_run_step_by_step():
    rng = np.random.default_rng(1)
    layers, res = _block(rng, 8, 2, 8)
    x = rng.standard_normal((1, 6, 6, 8)).astype(np.float32)
    _, seconds = _run(layers, x, res, 10**9)  # every intermediate fits: no band
    assert all(s > 0 for s in seconds)


def test_output_overlapping_the_runs_input_is_not_banded():
    """The last step writes the array the first one reads (legal step by step: the first step has
    read it by then): a banded run would overwrite rows it still reads, so it runs step by step."""
    rng = np.random.default_rng(2)
    layers, _ = _block(rng, 8, 3, 8, residual=False)
    x = rng.standard_normal((1, 20, 9, 8)).astype(np.float32)
    expect, _ = _run(layers, x.copy(), False, 0)
    buf = x.copy()
    shapes, steps, arrays = [x.shape], [], [buf]
    for j, (plan, _) in enumerate(layers):
        packed, stride, pad, dil, algo = _cpu_step(plan, shapes[-1], x.dtype)
        last = j == len(layers) - 1
        y = buf if last else np.empty(_out_shape(shapes[-1], plan, stride, pad, dil), np.float32)
        shapes.append(y.shape)
        arrays.append(y)
        steps.append((packed, j, j + 1, -1, stride, pad, dil, algo))
    seconds = _cpu.conv2d_chain(steps, arrays, 1)
    assert seconds[0] > 0  # the expand ran alone; depthwise -> project (reading the expand's out) banded
    assert seconds[1] == 0.0 < seconds[2]
    np.testing.assert_array_equal(buf, expect)


def test_residual_made_inside_the_run_ends_it():
    """expand -> depthwise -> project whose residual is the expand's output: the project cannot be
    in the expand's banded run (that value is never whole there); the results are unchanged."""
    rng = np.random.default_rng(3)
    e = [_plan(rng, 4, 8, 1), _plan(rng, 8, 8, 3, groups=8), _plan(rng, 8, 8, 1, act=None)]
    x = rng.standard_normal((1, 18, 12, 4)).astype(np.float32)
    outs = []
    for band in (0, 1):
        arrays, steps, shape = [x], [], x.shape
        for j, (plan, _) in enumerate(e):
            packed, stride, pad, dil, algo = _cpu_step(plan, shape, x.dtype)
            shape = _out_shape(shape, plan, stride, pad, dil)
            arrays.append(np.empty(shape, np.float32))
            steps.append((packed, j, j + 1, 1 if j == 2 else -1, stride, pad, dil, algo))
        _cpu.conv2d_chain(steps, arrays, band)
        outs.append(arrays[-1])
    np.testing.assert_array_equal(outs[0], outs[1])
    ref = _reference(_reference(_reference(x, e[0][1]), e[1][1]), e[2][1],
                     residual=_reference(x, e[0][1]))
    assert np.abs(outs[1] - ref).max() <= 1e-4


def test_bad_step_in_a_run_raises_before_writing():
    rng = np.random.default_rng(4)
    layers, _ = _block(rng, 8, 3, 8, residual=False)
    x = rng.standard_normal((1, 16, 8, 8)).astype(np.float32)
    shapes, steps, arrays = [x.shape], [], [x]
    for j, (plan, _) in enumerate(layers):
        packed, stride, pad, dil, algo = _cpu_step(plan, shapes[-1], x.dtype)
        shape = _out_shape(shapes[-1], plan, stride, pad, dil)
        if j == 2:
            shape = shape[:3] + (shape[3] + 1,)  # the wrong channel count for the project's out
        y = np.full(shape, 7.0, np.float32)
        shapes.append(y.shape)
        arrays.append(y)
        steps.append((packed, j, j + 1, -1, stride, pad, dil, algo))
    with pytest.raises(ValueError, match="out"):
        _cpu.conv2d_chain(steps, arrays, 1)
    assert (arrays[-1] == 7.0).all()


# The fuzzer's reach into the banded runs: random blocks, images, batches, band budgets and thread
# counts, each banded result bit for bit the step-by-step chain's.
from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3), h=st.integers(1, 24), w=st.integers(1, 13), c=st.integers(1, 6), t=st.integers(1, 4),
       r=st.sampled_from([1, 3, 5]), stride=st.integers(1, 2), dilation=st.integers(1, 2),
       band_bytes=st.integers(1, 40000), threads=st.integers(1, 2), seed=st.integers(0, 2**16))
def test_fuzz_banded_block_is_the_step_by_step_block(n, h, w, c, t, r, stride, dilation, band_bytes, threads, seed):
    rng = np.random.default_rng(seed)
    layers, res = _block(rng, c, t, c, r=r, stride=stride, dilation=dilation)
    if (h + 2 * (dilation * (r - 1) // 2) - dilation * (r - 1) - 1) < 0 or \
            (w + 2 * (dilation * (r - 1) // 2) - dilation * (r - 1) - 1) < 0:
        return  # (the kernel does not fit: the plan refuses it, tested elsewhere)
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    with hpc_kernels.num_threads(threads):
        plain, _ = _run(layers, x, res, 0)
        banded, _ = _run(layers, x, res, band_bytes)
    np.testing.assert_array_equal(banded, plain)
