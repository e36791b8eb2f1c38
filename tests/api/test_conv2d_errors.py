"""Every bad argument of hpc_kernels.conv2d raises the documented exception (ValueError, TypeError for
dtypes) with a message naming the offending argument, on both backends, writing nothing."""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels

BACKENDS = ["cpu", "reference"]


def f32(*shape):
    return np.arange(1.0, 1.0 + np.prod(shape), dtype=np.float32).reshape(shape) % 7 - 3


def x_(c=4, h=9, w=8, n=2, dtype=np.float32):
    return f32(n, c, h, w).astype(dtype)


def w_(k=6, c=4, r=3, s=3, dtype=np.float32):
    return f32(k, c, r, s).astype(dtype)


def readonly(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def conv(x=None, w=None, bias=None, **kw):
    """(args, kwargs) of a conv2d call, defaults: x (2,4,9,8) and w (6,4,3,3) float32: output
    (2,6,7,6) NCHW, (2,7,6,6) NHWC (distinct, so layout mix-ups show)."""
    return (x_() if x is None else x, w_() if w is None else w, bias), kw


OUT_SHAPE = (2, 6, 7, 6)  # of the default call

# id -> (builder returning (args, kwargs), exception, regex the message must match)
CASES = {
    # ranks
    "x-3d": (lambda: conv(x=f32(4, 8, 8)), ValueError, r"\bx\b"),
    "x-5d": (lambda: conv(x=f32(1, 2, 4, 8, 8)), ValueError, r"\bx\b"),
    "x-2d": (lambda: conv(x=f32(8, 8)), ValueError, r"\bx\b"),
    "w-3d": (lambda: conv(w=f32(6, 4, 3)), ValueError, r"\bw\b"),
    "w-5d": (lambda: conv(w=f32(6, 4, 3, 3, 1)), ValueError, r"\bw\b"),
    # layout
    "layout-bad": (lambda: conv(layout="NCWH"), ValueError, "layout"),
    "layout-none": (lambda: conv(layout=None), (ValueError, TypeError), "layout"),
    # groups and channels
    "groups-0": (lambda: conv(groups=0), ValueError, "groups"),
    "groups-negative": (lambda: conv(groups=-2), ValueError, "groups"),
    "groups-not-dividing-C": (lambda: conv(x=x_(c=6), w=w_(k=8, c=1), groups=4), ValueError, "groups"),
    "groups-not-dividing-K": (lambda: conv(x=x_(c=6), w=w_(k=8, c=2), groups=3), ValueError, "groups"),
    "w-channels-mismatch": (lambda: conv(x=x_(c=6), w=w_(c=4)), ValueError, r"channel|\bw\b|\bC\b"),
    "w-channels-times-groups": (lambda: conv(x=x_(c=6), w=w_(k=4, c=6), groups=2), ValueError, r"channel|\bw\b|groups"),
    "w-channels-nhwc": (lambda: conv(x=f32(2, 9, 8, 5), layout="NHWC"), ValueError, r"channel|\bw\b|\bC\b"),
    # kernel vs input
    "kernel-larger-than-input": (lambda: conv(x=x_(h=4, w=4), w=w_(r=5, s=5)), ValueError, r"kernel|input|output|size"),
    "kernel-larger-width-only": (lambda: conv(x=x_(h=8, w=2), w=w_(r=1, s=3)), ValueError, r"kernel|input|output|size"),
    "dilated-kernel-larger": (lambda: conv(x=x_(h=7, w=7), dilation=4), ValueError, r"kernel|input|output|size|dilation"),
    "kernel-larger-asym-pad": (
        lambda: conv(x=x_(h=4, w=6), w=w_(r=5, s=3), padding=(0, 0, 1, 0)), ValueError, r"kernel|input|output|size|padding",
    ),
    # padding
    "padding-negative": (lambda: conv(padding=-1), ValueError, "padding"),
    "padding-negative-pair": (lambda: conv(padding=(1, -1)), ValueError, "padding"),
    "padding-negative-4": (lambda: conv(padding=(0, 0, 0, -2)), ValueError, "padding"),
    "padding-3-tuple": (lambda: conv(padding=(1, 1, 1)), ValueError, "padding"),
    "padding-bad-string": (lambda: conv(padding="full"), ValueError, "padding"),
    "padding-same-stride2": (lambda: conv(padding="same", stride=2), ValueError, r"same|stride|padding"),
    "padding-same-stride-pair": (lambda: conv(padding="same", stride=(1, 2)), ValueError, r"same|stride|padding"),
    # stride, dilation
    "stride-0": (lambda: conv(stride=0), ValueError, "stride"),
    "stride-negative": (lambda: conv(stride=-1), ValueError, "stride"),
    "stride-pair-0": (lambda: conv(stride=(1, 0)), ValueError, "stride"),
    "dilation-0": (lambda: conv(dilation=0), ValueError, "dilation"),
    "dilation-pair-negative": (lambda: conv(dilation=(-1, 1)), ValueError, "dilation"),
    # epilogue vectors
    "bias-wrong-length": (lambda: conv(bias=np.zeros(5, np.float32)), ValueError, "bias"),
    "bias-2d": (lambda: conv(bias=np.zeros((6, 1), np.float32)), ValueError, "bias"),
    "bias-scalar": (lambda: conv(bias=np.float32(1.0)), ValueError, "bias"),
    "scale-wrong-length": (lambda: conv(scale=np.ones(7, np.float32)), ValueError, "scale"),
    "shift-wrong-length": (lambda: conv(shift=np.ones(1, np.float32)), ValueError, "shift"),
    "activation-unknown": (lambda: conv(activation="gelu"), ValueError, "activation"),
    "activation-sigmoid": (lambda: conv(activation="sigmoid"), ValueError, "activation"),
    # algorithms
    "algorithm-unknown": (lambda: conv(algorithm="fft"), ValueError, "algorithm"),
    "algorithm-gemm-3x3": (lambda: conv(algorithm="gemm"), ValueError, r"gemm|algorithm"),
    "algorithm-gemm-1x1-stride2": (lambda: conv(w=w_(r=1, s=1), stride=2, algorithm="gemm"), ValueError, r"gemm|algorithm"),
    "algorithm-gemm-1x1-pad1": (lambda: conv(w=w_(r=1, s=1), padding=1, algorithm="gemm"), ValueError, r"gemm|algorithm"),
    "algorithm-gemm-1x1-pad-asym": (
        lambda: conv(w=w_(r=1, s=1), padding=(0, 1, 0, 0), algorithm="gemm"), ValueError, r"gemm|algorithm",
    ),
    # dtypes
    "int32": (lambda: conv(x=x_().astype(np.int32), w=w_().astype(np.int32)), TypeError, "int32"),
    "int64-x": (lambda: conv(x=x_().astype(np.int64)), TypeError, "int64"),
    "int-w": (lambda: conv(w=w_().astype(np.int16)), TypeError, "int16"),
    "float16": (lambda: conv(x=x_().astype(np.float16), w=w_().astype(np.float16)), TypeError, "float16"),
    "complex": (lambda: conv(x=x_().astype(complex), w=w_().astype(complex)), TypeError, "complex"),
    "bool": (lambda: conv(x=x_().astype(bool), w=w_().astype(bool)), TypeError, "bool"),
    "mixed-x32-w64": (lambda: conv(w=w_(dtype=np.float64)), TypeError, r"float32|float64"),
    "mixed-x64-w32": (lambda: conv(x=x_(dtype=np.float64)), TypeError, r"float32|float64"),
    "bias-dtype": (lambda: conv(bias=np.zeros(6, np.float64)), TypeError, "bias"),
    "bias-int": (lambda: conv(bias=np.zeros(6, np.int32)), TypeError, "bias"),
    "scale-dtype": (lambda: conv(scale=np.ones(6, np.float64)), TypeError, "scale"),
    "shift-dtype": (lambda: conv(shift=np.ones(6, np.float64)), TypeError, "shift"),
    # out
    "out-shape": (lambda: conv(out=np.zeros((2, 6, 7, 5), np.float32)), ValueError, r"\bout\b"),
    "out-batch": (lambda: conv(out=np.zeros((3, 6, 7, 6), np.float32)), ValueError, r"\bout\b"),
    "out-3d": (lambda: conv(out=np.zeros((12, 7, 6), np.float32)), ValueError, r"\bout\b"),
    "out-nhwc-shape-for-nchw": (lambda: conv(out=np.zeros((2, 7, 6, 6), np.float32)), ValueError, r"\bout\b"),
    "out-nchw-shape-for-nhwc": (
        lambda: conv(x=f32(2, 9, 8, 4), layout="NHWC", out=np.zeros((2, 6, 7, 6), np.float32)), ValueError, r"\bout\b",
    ),
    "out-dtype": (lambda: conv(out=np.zeros(OUT_SHAPE, np.float64)), TypeError, r"\bout\b"),
    "out-int": (lambda: conv(out=np.zeros(OUT_SHAPE, np.int32)), TypeError, r"\bout\b"),
    "out-readonly": (lambda: conv(out=readonly(np.zeros(OUT_SHAPE, np.float32))), ValueError, r"\bout\b"),
    "out-transposed": (
        lambda: conv(out=np.zeros((6, 7, 6, 2), np.float32).transpose(3, 2, 1, 0)), ValueError, r"\bout\b",
    ),
    "out-rows-strided": (lambda: conv(out=np.zeros((2, 6, 14, 6), np.float32)[:, :, ::2]), ValueError, r"\bout\b"),
    "out-list": (lambda: conv(out=np.zeros(OUT_SHAPE, np.float32).tolist()), (TypeError, ValueError), r"\bout\b"),
    "out-is-x": (lambda: (lambda x: conv(x=x, w=w_(k=4, r=1, s=1), out=x))(x_()), ValueError, r"out shares memory with x"),
}


def _params():
    for case in CASES:
        for backend in BACKENDS:
            yield pytest.param(case, backend, id=f"{case}-{backend}")


def _call(args, kwargs, backend):
    return hpc_kernels.conv2d(*args, backend=backend, **kwargs)


@pytest.mark.parametrize("case,backend", list(_params()))
def test_bad_input(case, backend):
    """The documented exception type, a message naming the argument, and no array written."""
    build, exc, match = CASES[case]
    args, kwargs = build()
    arrays = [a for a in (*args, *kwargs.values()) if isinstance(a, np.ndarray)]
    before = [a.copy() for a in arrays]
    with pytest.raises(exc, match=match):
        _call(args, kwargs, backend)
    for a, a0 in zip(arrays, before):
        np.testing.assert_array_equal(a, a0, err_msg=f"{case}: an array was written before the error")


def test_table_cases_are_valid_when_fixed():
    """Sanity of the table: the default call the cases perturb is itself accepted."""
    args, kwargs = conv()
    assert hpc_kernels.conv2d(*args, **kwargs).shape == OUT_SHAPE
    assert hpc_kernels.conv2d(*args, out=np.zeros(OUT_SHAPE, np.float32)).shape == OUT_SHAPE


def test_exception_types_agree_across_backends():
    """Both backends raise the same exception class for every case."""
    for case, (build, exc, _) in CASES.items():
        kinds = []
        for backend in BACKENDS:
            args, kwargs = build()
            try:
                _call(args, kwargs, backend)
            except Exception as e:  # noqa: BLE001
                kinds.append(type(e))
            else:
                kinds.append(None)
        assert kinds[0] is kinds[1] and kinds[0] is not None and issubclass(kinds[0], exc), f"{case}: {kinds}"


@pytest.mark.parametrize("algorithm", ["gemm", "direct"])
def test_restricted_algorithms_accepted_where_they_apply(algorithm):
    """gemm is not rejected wholesale: it runs on a 1x1 stride-1 unpadded layer (also grouped);
    direct runs on every layer (depthwise, dense, grouped, depth multiplier)."""
    if algorithm == "gemm":
        for groups in (1, 2):
            y = hpc_kernels.conv2d(x_(c=4), w_(k=6, c=4 // groups, r=1, s=1), groups=groups, algorithm="gemm")
            assert y.shape == (2, 6, 9, 8)
    else:
        for k, c, groups in ((4, 1, 4), (4, 4, 1), (4, 2, 2), (8, 1, 4)):
            y = hpc_kernels.conv2d(x_(c=4), w_(k=k, c=c), groups=groups, padding=1, algorithm="direct")
            assert y.shape == (2, k, 9, 8)
