"""Property-based fuzzing (hypothesis, the profiles tests/conftest.py registers) of the int8
convolution: random layers, layouts, activation/weight types, zero points, output modes, float
residuals and the skip addition, run by the cpu backend (every path: pointwise rows, lowered rows,
packed, depthwise, grouped, the register and L1-tile epilogues, AMX where the CPU has it, with
reductions up to 2304 so that it runs; on 1 to 3 threads, so the per-thread pixel units run too)
must equal the reference backend bit for bit, and write nothing outside the output. x, the
residual, the skip tensor and out are views too (a channel slice of a wider array, a step along W,
reversed channels, W of any stride where the output has one column), as the float fuzzer's are."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("hypothesis")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import hpc_kernels  # noqa: E402
from _helpers import VIEWS, layout_view  # noqa: E402
from _qcpu import CPU_INT8  # noqa: E402

pytestmark = pytest.mark.skipif(not CPU_INT8, reason="the cpu backend has no int8 engine in this build")


@st.composite
def layers(draw):
    r = draw(st.sampled_from([1, 3]))
    depthwise = draw(st.booleans()) and r == 3
    c = draw(st.sampled_from([1, 3, 8, 17, 40, 64, 256] if not depthwise else [1, 8, 33]))
    groups = c if depthwise else draw(st.sampled_from([g for g in (1, 2) if c % g == 0]))
    # Whole 32-channel panels (32, 64) often, with the 64/256-channel 1x1 and 3x3 layers (k a
    # multiple of 64): the AMX tiles' int32 output stored straight into C needs both.
    k = c if depthwise else groups * draw(st.one_of(st.integers(1, 40), st.sampled_from([32, 64])))
    # Images up to 24x24 half the time: with 2 or 3 threads, lowered layers of that many pixels take
    # the per-thread units of pixels (csrc/conv/qconv.cpp), smaller ones the shared chunks.
    side = st.one_of(st.integers(1, 13), st.integers(12, 24))
    h, w = draw(side), draw(side)
    stride = draw(st.sampled_from([1, 2]))
    pad = draw(st.integers(0, r // 2))
    return dict(n=draw(st.integers(1, 2)), c=c, k=k, h=h, w=w, r=r, groups=groups, stride=stride, padding=pad,
                layout=draw(st.sampled_from(["NCHW", "NHWC"])), xdt=draw(st.sampled_from([np.uint8, np.int8])),
                wdt=draw(st.sampled_from([np.int8, np.uint8])), mode=draw(st.sampled_from(["int32", "float", "quant"])),
                act=draw(st.sampled_from([None, "relu", "relu6"])), residual=draw(st.booleans()),
                skip=draw(st.booleans()), wzp=draw(st.booleans()), threads=draw(st.sampled_from([1, 2, 3])),
                seed=draw(st.integers(0, 2**31 - 1)))


@given(layers(), st.sampled_from(VIEWS), st.sampled_from(VIEWS), st.sampled_from(VIEWS))
def test_qconv2d_cpu_equals_reference(p, x_view, r_view, out_view):
    rng = np.random.default_rng(p["seed"])
    n, c, k, h, w, r = p["n"], p["c"], p["k"], p["h"], p["w"], p["r"]
    if h + 2 * p["padding"] < r or w + 2 * p["padding"] < r:
        return
    xi, wi = np.iinfo(p["xdt"]), np.iinfo(p["wdt"])
    x = rng.integers(xi.min, xi.max + 1, (n, c, h, w) if p["layout"] == "NCHW" else (n, h, w, c), dtype=p["xdt"])
    wt = rng.integers(wi.min, wi.max + 1, (k, c // p["groups"], r, r), dtype=p["wdt"])
    kw = dict(stride=p["stride"], padding=p["padding"], groups=p["groups"], layout=p["layout"],
              x_zero_point=p["xdt"](rng.integers(xi.min, xi.max + 1)),
              w_zero_point=(rng.integers(-3, 4, k).astype(p["wdt"]) if p["wzp"] and p["wdt"] == np.int8 else 0))
    if p["mode"] != "int32":
        kw.update(x_scale=0.02, w_scale=(rng.random(k) * 0.01 + 1e-3).astype(np.float32), activation=p["act"])
    if p["mode"] == "quant":
        kw.update(out_scale=0.3, out_zero_point=p["xdt"](rng.integers(xi.min, xi.max + 1)))
    ref = hpc_kernels.qconv2d(x, wt, backend="reference", **kw)  # the output's shape and dtype
    if p["residual"] and p["mode"] != "int32":
        kw["residual"] = rng.standard_normal(ref.shape).astype(np.float32) * 4
    if p["skip"] and p["mode"] == "quant":
        kw.update(skip=rng.integers(xi.min, xi.max + 1, ref.shape, dtype=ref.dtype), skip_scale=0.25,
                  skip_zero_point=p["xdt"](3), sum_scale=0.2, sum_zero_point=p["xdt"](-5 if p["xdt"] == np.int8 else 7))
    want = hpc_kernels.qconv2d(x, wt, backend="reference", **kw)
    xv = layout_view(x, x_view, p["layout"], 0)[0]
    for key in ("residual", "skip"):
        if key in kw:
            kw[key] = layout_view(kw[key], r_view, p["layout"], 0)[0]
    # out inside a larger buffer of a sentinel value: nothing outside it may change
    if out_view == "contiguous":
        buf = np.full(ref.size + 32, 90, want.dtype)
        out = buf[16:16 + ref.size].reshape(ref.shape)
    else:
        out, buf = layout_view(np.full(ref.shape, 90, want.dtype), out_view, p["layout"], 90)
    before = buf.copy()
    with hpc_kernels.num_threads(p["threads"]):
        got = hpc_kernels.qconv2d(xv, wt, backend="cpu", out=out, **kw)
    assert got is out
    np.testing.assert_array_equal(got, want)
    out[...] = 90
    np.testing.assert_array_equal(buf, before)  # only out's elements changed
