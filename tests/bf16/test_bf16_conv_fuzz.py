"""Property-based fuzzing (hypothesis; .ci/fuzz.sh runs the CI form) of the bf16 convolution on the
cpu backend: random layers (groups, depthwise, channel multipliers, stride, asymmetric padding,
dilation), both layouts, the epilogue (bias, scale, shift, activation, a residual), bf16 or
float32 output, 1 or 2 threads, and x, the residual and out as views (tests/_helpers.py
layout_view: a channel slice of a wider array, a step along W, reversed channels, W of any stride
where the output has one column). Small integers make every product, sum and the fp32 epilogue
exact, so the result must equal the float64 reference rounded once, bit for bit; nothing outside
out may change."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("hypothesis")
pytest.importorskip("ml_dtypes")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import hpc_kernels as hk  # noqa: E402
from _bref import BF16, F32, F64, ints  # noqa: E402
from _helpers import VIEWS, layout_view  # noqa: E402
from hpc_kernels._api import conv_args as A  # noqa: E402
from hpc_kernels.backends.reference import conv as npconv  # noqa: E402


@st.composite
def layers(draw):
    depthwise = draw(st.booleans())
    c = draw(st.integers(1, 20))
    groups = c if depthwise else draw(st.sampled_from([g for g in (1, 2, 3) if c % g == 0]))
    k = groups * draw(st.integers(1, 3)) if depthwise else groups * draw(st.integers(1, 12))
    r, s = draw(st.sampled_from([1, 2, 3, 5])), draw(st.sampled_from([1, 3]))
    dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    pad = tuple(draw(st.integers(0, 2)) for _ in range(4))
    h = draw(st.integers(max(1, dil[0] * (r - 1) + 1 - pad[0] - pad[1]), 14))
    w = draw(st.integers(max(1, dil[1] * (s - 1) + 1 - pad[2] - pad[3]), 14))
    return dict(n=draw(st.integers(1, 2)), c=c, h=h, w=w, k=k, r=r, s=s, groups=groups, dilation=dil, padding=pad,
                stride=(draw(st.integers(1, 3)), draw(st.integers(1, 3))), layout=draw(st.sampled_from(["NCHW", "NHWC"])),
                act=draw(st.sampled_from([None, "relu", "relu6"])), epilogue=draw(st.booleans()),
                residual=draw(st.booleans()), out_f32=draw(st.booleans()), threads=draw(st.sampled_from([1, 2])),
                seed=draw(st.integers(0, 2**31 - 1)))


@given(layers(), st.sampled_from(VIEWS), st.sampled_from(VIEWS), st.sampled_from(VIEWS))
def test_bf16_conv2d_exact_through_views(p, x_view, r_view, out_view):
    rng = np.random.default_rng(p["seed"])
    lay, odt = p["layout"], (F32 if p["out_f32"] else BF16)
    xs = (p["n"], p["c"], p["h"], p["w"]) if lay == "NCHW" else (p["n"], p["h"], p["w"], p["c"])
    x = ints(rng, xs, -3, 3)
    w = ints(rng, (p["k"], p["c"] // p["groups"], p["r"], p["s"]), -3, 3)
    vec = dict(bias=None, scale=None, shift=None)
    if p["epilogue"]:
        vec = dict(bias=rng.integers(-5, 6, p["k"]).astype(F32), scale=rng.choice([0.5, 1.0, 2.0], p["k"]).astype(F32),
                   shift=rng.integers(-3, 4, p["k"]).astype(F32))
    geo = dict(stride=p["stride"], padding=p["padding"], dilation=p["dilation"], groups=p["groups"], layout=lay)
    spec = A.make_spec("ref", p["stride"], p["padding"], p["dilation"], p["groups"], lay, p["act"])
    shape = A.shape_of("ref", x.shape, w.shape, spec)
    ys = shape.out_shape(lay)
    res = ints(rng, ys, -8, 8).astype(odt) if p["residual"] else None
    want = npconv.conv2d(x.astype(F64), w.astype(F64), vec["bias"], vec["scale"], vec["shift"], spec, shape, F64,
                         None if res is None else res.astype(F64)).astype(odt)
    xv = layout_view(x, x_view, lay, 0)[0]
    rv = None if res is None else layout_view(res, r_view, lay, 0)[0]
    out, mem = layout_view(np.full(ys, 77, odt), out_view, lay, 77)
    before = mem.copy()
    with hk.num_threads(p["threads"]):
        got = hk.conv2d(xv, w, vec["bias"], scale=vec["scale"], shift=vec["shift"], activation=p["act"], residual=rv,
                        out=out, out_dtype=np.float32 if p["out_f32"] else None, backend="cpu", **geo)
    assert got is out
    np.testing.assert_array_equal(got.astype(F64), want.astype(F64))
    out[...] = 77
    np.testing.assert_array_equal(mem.astype(F64), before.astype(F64))  # only out's elements changed
