"""Every error of qgemm/qconv2d/QConv2d: a TypeError or ValueError that names the argument and
what is allowed, the same on every engine (the checks run before any backend does)."""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels

A = np.zeros((4, 6), np.uint8)
B = np.zeros((6, 5), np.int8)
X = np.zeros((1, 3, 5, 5), np.uint8)
W = np.zeros((4, 3, 3, 3), np.int8)
F = dict(a_scale=0.1, b_scale=0.2)

QGEMM_ERRORS = [
    (dict(a=A.astype(np.float32)), TypeError, "qgemm: the activation must be uint8 or int8, got float32"),
    (dict(b=B.astype(np.int16)), TypeError, "qgemm: the weights must be int8 or uint8, got int16"),
    (dict(a=A[0]), ValueError, r"qgemm: a must be at least 2-D, got shape \(6,\)"),
    (dict(b=B[:, 0]), ValueError, r"qgemm: b must be at least 2-D, got shape \(6,\)"),
    (dict(b=B[:5]), ValueError, r"qgemm: shapes \(4, 6\) and \(5, 5\) do not agree"),
    (dict(a=np.zeros((2, 4, 6), np.uint8), b=np.zeros((3, 6, 5), np.int8)), ValueError,
     "qgemm: batch dimensions of shapes .* cannot be broadcast together"),
    (dict(a_zero_point=256), ValueError, r"qgemm: a_zero_point must lie in \[0, 255\]"),
    (dict(a=A.view(np.int8), a_zero_point=128), ValueError, r"qgemm: a_zero_point must lie in \[-128, 127\]"),
    (dict(a_zero_point=1.5), TypeError, "qgemm: a_zero_point must be an integer"),
    (dict(b_zero_point=[1, 2]), ValueError, "qgemm: b_zero_point must be a scalar or a vector of 5"),
    (dict(b_zero_point=200), ValueError, r"qgemm: b_zero_point must lie in \[-128, 127\]"),
    (dict(a_scale=0.1), ValueError, "qgemm: give both a_scale and b_scale"),
    (dict(a_scale=0.1, b_scale=-1.0), ValueError, "qgemm: b_scale must be finite and > 0"),
    (dict(a_scale=0.1, b_scale=[0.1, 0.2]), ValueError, "qgemm: b_scale must be a scalar or a vector of 5"),
    (dict(a_scale="x", b_scale=0.1), TypeError, "qgemm: a_scale must be a float"),
    (dict(a_scale=1e30, b_scale=1e30), ValueError, "qgemm: a_scale \\* b_scale must be finite"),
    (dict(a_scale=1.0, b_scale=1e30, out_scale=1e-30), ValueError, "qgemm: a_scale \\* b_scale / out_scale must be finite"),
    (dict(out_scale=0.1), ValueError, "qgemm: out_scale/out_zero_point need a_scale and b_scale"),
    (dict(out_zero_point=1, **F), ValueError, "qgemm: out_zero_point needs out_scale"),
    (dict(activation="relu"), ValueError, "qgemm: activation and residual need a_scale and b_scale"),
    (dict(activation="gelu", **F), ValueError, "qgemm: activation must be one of"),
    (dict(out_dtype=np.float32), TypeError, r"qgemm: out_dtype float32 does not match the output mode 'int32'"),
    (dict(out_dtype=np.int32, out_scale=0.1, **F), TypeError, "qgemm: out_dtype int32 does not match the output mode 'quant'"),
    (dict(out_scale=0.1, out_zero_point=-1, **F), ValueError, r"qgemm: out_zero_point must lie in \[0, 255\]"),
    (dict(bias=np.zeros(5, np.int64)), TypeError, "qgemm: bias must be int32"),
    (dict(bias=np.zeros(4, np.int32)), ValueError, r"qgemm: bias must have shape \(5,\)"),
    (dict(residual=np.zeros((4, 5), np.float64), **F), TypeError, "qgemm: residual must be float32, got float64"),
    (dict(residual=np.zeros((3, 5), np.float32), **F), ValueError, r"qgemm: residual of shape \(3, 5\) does not broadcast"),
    (dict(out=np.zeros((4, 5), np.float32)), TypeError, "qgemm: out has dtype float32 but the result is int32"),
    (dict(out=np.zeros((5, 4), np.int32)), ValueError, r"qgemm: out has shape \(5, 4\), expected \(4, 5\)"),
    (dict(out=[[0] * 5] * 4), TypeError, "qgemm: out must be a numpy.ndarray"),
    (dict(out=np.broadcast_to(np.zeros(5, np.int32), (4, 5))), ValueError, "qgemm: out is read-only"),
]


@pytest.mark.parametrize("kw,exc,msg", QGEMM_ERRORS, ids=[m[:48] for _, _, m in QGEMM_ERRORS])
def test_qgemm_errors(qengine, kw, exc, msg):
    kw = dict(kw)
    a, b = kw.pop("a", A), kw.pop("b", B)
    with pytest.raises(exc, match=msg):
        hpc_kernels.qgemm(a, b, backend=qengine, **kw)


def test_overlaps(qengine):
    a = np.zeros((5, 5), np.uint8)
    with pytest.raises(ValueError, match="qgemm: out shares memory with a"):
        hpc_kernels.qgemm(a, B[:5, :5], out_scale=1.0, **F, out=a)
    out = np.zeros((4, 5), np.float32)
    with pytest.raises(ValueError, match="qgemm: residual and out share memory without being the same array view"):
        hpc_kernels.qgemm(A, B, **F, out=out, residual=out[::-1])


QCONV_ERRORS = [
    (dict(x=X.astype(np.float32)), TypeError, "qconv2d: x must be uint8 or int8, got float32"),
    (dict(w=W.astype(np.float32)), TypeError, "qconv2d: w must be int8 or uint8, got float32"),
    (dict(x=X[0]), ValueError, r"qconv2d: x must be 4-D \(N, C, H, W\)"),
    (dict(w=W[:, :2]), ValueError, "qconv2d: w has 2 input channels per group"),
    (dict(groups=2), ValueError, "qconv2d: groups=2 must divide the input channels"),
    (dict(stride=0), ValueError, "qconv2d: stride must be >= 1"),
    (dict(padding=-1), ValueError, "qconv2d: padding must be >= 0"),
    (dict(padding="same", stride=2), ValueError, "qconv2d: padding='same' needs stride 1"),
    (dict(layout="CHWN"), ValueError, "qconv2d: layout must be 'NCHW' or 'NHWC'"),
    (dict(algorithm="fft"), ValueError, "qconv2d: algorithm must be one of"),
    (dict(x_zero_point=300), ValueError, r"qconv2d: x_zero_point must lie in \[0, 255\]"),
    (dict(w_zero_point=[1, 2]), ValueError, "qconv2d: w_zero_point must be a scalar or a vector of 4"),
    (dict(x_scale=0.1), ValueError, "qconv2d: give both x_scale and w_scale"),
    (dict(x_scale=0.1, w_scale=[0.1] * 3), ValueError, "qconv2d: w_scale must be a scalar or a vector of 4"),
    (dict(bias=np.zeros(4, np.float32)), TypeError, "qconv2d: bias must be int32"),
    (dict(activation="relu"), ValueError, "qconv2d: activation and residual need x_scale and w_scale"),
    (dict(residual=np.zeros((1, 4, 3, 3), np.float32)), ValueError, "qconv2d: activation and residual need x_scale"),
    (dict(residual=np.zeros((1, 4, 2, 3), np.float32), x_scale=0.1, w_scale=0.1), ValueError,
     r"qconv2d: residual of shape \(1, 4, 2, 3\) does not broadcast to the output shape \(1, 4, 3, 3\)"),
    (dict(out=np.zeros((1, 4, 3, 3), np.uint8)), TypeError, "qconv2d: out has dtype uint8 but the result is int32"),
    (dict(out=np.zeros((1, 3, 3, 4), np.int32)), ValueError, r"qconv2d: out has shape \(1, 3, 3, 4\), expected \(1, 4, 3, 3\)"),
    (dict(out=np.zeros((1, 4, 6, 3), np.int32)[:, :, ::2]), ValueError, "qconv2d: out must have its H and W dimensions contiguous"),
]


@pytest.mark.parametrize("kw,exc,msg", QCONV_ERRORS, ids=[m[:48] for _, _, m in QCONV_ERRORS])
def test_qconv2d_errors(qengine, kw, exc, msg):
    kw = dict(kw)
    x, w = kw.pop("x", X), kw.pop("w", W)
    with pytest.raises(exc, match=msg):
        hpc_kernels.qconv2d(x, w, backend=qengine, **kw)


def test_plan_errors(qengine):
    with pytest.raises(ValueError, match=r"QConv2d: w must be 4-D"):
        hpc_kernels.QConv2d(W[0], backend=qengine)
    with pytest.raises(TypeError, match="QConv2d: w must be int8 or uint8, got float32"):
        hpc_kernels.QConv2d(W.astype(np.float32), backend=qengine)
    with pytest.raises(ValueError, match="QConv2d: w_scale must be finite and > 0"):
        hpc_kernels.QConv2d(W, x_scale=0.1, w_scale=0.0, backend=qengine)
    plan = hpc_kernels.QConv2d(W, x_zero_point=200, backend=qengine)
    with pytest.raises(ValueError, match=r"QConv2d: x_zero_point must lie in \[-128, 127\]"):
        plan(X.view(np.int8))  # the construction's zero point does not suit int8 x
    with pytest.raises(ValueError, match=r"QConv2d: x must be 4-D"):
        plan(X[0])
    with pytest.raises(TypeError, match="QConv2d: x must be uint8 or int8, got float32"):
        plan(X.astype(np.float32))
    with pytest.raises(ValueError, match="QConv2d: give both x_scale and w_scale"):
        plan(X, x_scale=0.1)  # a scale for x alone: the plan has no w_scale


def test_cpu_entries_recheck_the_output():
    """The C++ entries re-check out themselves (a direct hpc_kernels._cpu call skips the Python
    checks): out overlapping an input, or itself, is a ValueError, never a silent race."""
    from hpc_kernels._extension import cpu_extension

    cpu = cpu_extension()[0]
    if cpu is None:
        pytest.skip("the cpu backend is not built")
    zp = np.zeros(4, np.int32)
    buf = np.zeros(64, np.int32)
    a = buf.view(np.uint8)[:16].reshape(4, 4)
    b = np.zeros((4, 4), np.int8)
    with pytest.raises(ValueError, match="share|overlap"):
        cpu.qgemm(a, b, buf[:16].reshape(4, 4), 0, zp, None, "int32", None, 1.0, 0.0, "", 0, None)
    with pytest.raises(ValueError, match="overlapping"):
        cpu.qgemm(np.zeros((4, 4), np.uint8), b, np.lib.stride_tricks.as_strided(np.zeros(4, np.int32), (4, 4), (0, 4)), 0, zp, None,
                  "int32", None, 1.0, 0.0, "", 0, None)
    x = np.zeros((1, 4, 3, 3), np.uint8)
    w = np.zeros((4, 4, 1, 1), np.int8)
    with pytest.raises(ValueError, match="share|overlap"):
        cpu.qconv2d(x, w, x.view(np.uint8), (1, 1), (0, 0, 0, 0), (1, 1), 1, 0, zp, None, "quant",
                    np.ones(4, np.float32), 1.0, 255.0, "", 0, None)
