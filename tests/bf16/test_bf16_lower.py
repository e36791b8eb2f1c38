"""The C++ bf16 lowering entries (csrc/conv/bf16_lower.cpp): _cpu.bf16_im2col equal to NumPy's padded
strided im2col in both layouts (padding, strides, dilations, a window larger than a stride), and
_cpu.round_bf16 equal to ml_dtypes' float32 -> bfloat16 cast (ties, overflow, subnormals, NaN);
their argument checks."""
from __future__ import annotations

import numpy as np
import pytest

ml_dtypes = pytest.importorskip("ml_dtypes")

from hpc_kernels import _cpu  # noqa: E402

CASES = [  # n, c, h, w, r, s, stride, padding (t, b, l, r), dilation
    (2, 3, 7, 9, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1)),
    (1, 5, 8, 6, 3, 2, (2, 3), (2, 0, 1, 3), (1, 2)),
    (2, 4, 5, 5, 1, 1, (2, 2), (0, 0, 0, 0), (1, 1)),
    (1, 2, 9, 11, 5, 4, (3, 2), (0, 2, 3, 1), (2, 1)),
]


def _numpy_cols(x, r, s, stride, pad, dil, layout):
    nchw = x if layout == "NCHW" else x.transpose(0, 3, 1, 2)
    n, c, h, w = nchw.shape
    xp = np.pad(nchw, ((0, 0), (0, 0), pad[:2], pad[2:]))
    ho = (h + pad[0] + pad[1] - dil[0] * (r - 1) - 1) // stride[0] + 1
    wo = (w + pad[2] + pad[3] - dil[1] * (s - 1) - 1) // stride[1] + 1
    taps = np.empty((n, c, r, s, ho, wo), x.dtype)
    for i in range(r):
        for j in range(s):
            taps[:, :, i, j] = xp[:, :, i * dil[0]:i * dil[0] + (ho - 1) * stride[0] + 1:stride[0],
                                  j * dil[1]:j * dil[1] + (wo - 1) * stride[1] + 1:stride[1]]
    if layout == "NCHW":
        return taps.reshape(n, c * r * s, ho * wo)
    return np.ascontiguousarray(taps.transpose(0, 4, 5, 2, 3, 1)).reshape(n * ho * wo, r * s * c)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("case", CASES, ids=range(len(CASES)))
def test_bf16_im2col_equals_numpy(layout, case):
    n, c, h, w, r, s, stride, pad, dil = case
    rng = np.random.default_rng(0)
    shape = (n, c, h, w) if layout == "NCHW" else (n, h, w, c)
    x = rng.integers(1, 65535, shape).astype(np.uint16)  # no zeros: a missed tap shows
    want = _numpy_cols(x, r, s, stride, pad, dil, layout)
    got = np.full(want.shape, 7, np.uint16)
    _cpu.bf16_im2col(x, got, (r, s), stride, pad, dil, layout)
    np.testing.assert_array_equal(got, want)


def test_bf16_im2col_checks_its_arguments():
    x = np.zeros((1, 2, 4, 4), np.uint16)
    cols = np.zeros((1, 18, 16), np.uint16)
    ok = dict(kernel=(3, 3), stride=(1, 1), padding=(1, 1, 1, 1), dilation=(1, 1), layout="NCHW")
    _cpu.bf16_im2col(x, cols, **ok)
    with pytest.raises(ValueError, match="needs"):
        _cpu.bf16_im2col(x, np.zeros((1, 18, 15), np.uint16), **ok)
    with pytest.raises(TypeError, match="uint16"):
        _cpu.bf16_im2col(x.astype(np.float32), cols, **ok)
    with pytest.raises(ValueError, match="larger than the padded input"):
        _cpu.bf16_im2col(x, cols, **{**ok, "kernel": (7, 3)})
    with pytest.raises(ValueError, match="stride"):
        _cpu.bf16_im2col(x, cols, **{**ok, "stride": (0, 1)})
    with pytest.raises(ValueError, match="layout"):
        _cpu.bf16_im2col(x, cols, **{**ok, "layout": "CHWN"})


def test_round_bf16_is_the_ml_dtypes_cast():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(200_000) * 10.0 ** rng.integers(-45, 39, 200_000)).astype(np.float32)
    ties = (np.arange(1000, dtype=np.uint32) << 16 | 0x8000).view(np.float32)  # exact halfway cases
    special = np.array([np.inf, -np.inf, 0.0, -0.0, 3.4028235e38, -3.4028235e38, 1e-45, -1e-40], np.float32)
    x = np.concatenate([x, ties, special])
    out = np.empty(x.shape, np.uint16)
    _cpu.round_bf16(x, out)
    np.testing.assert_array_equal(out, x.astype(ml_dtypes.bfloat16).view(np.uint16))
    nan = np.array([np.nan, -np.nan], np.float32)
    o = np.empty(2, np.uint16)
    _cpu.round_bf16(nan, o)
    assert np.isnan(o.view(ml_dtypes.bfloat16).astype(np.float32)).all()
    with pytest.raises(ValueError, match="as many"):
        _cpu.round_bf16(x, out[:-1])
    with pytest.raises(TypeError, match="float32"):
        _cpu.round_bf16(x.astype(np.float64), out)
