"""Argument normalisation and validation of conv2d, shared by every backend.

Turns the user-facing forms (int or pair strides, "same"/"valid"/int/pair/4-tuple padding, layout
names) into one ConvSpec and checks shapes against it, raising TypeError/ValueError that name the
argument and what is allowed.
"""
from __future__ import annotations

import operator
from typing import Any, NamedTuple, Optional, Tuple

import numpy as np

from .._validation import check_output

LAYOUTS = ("NCHW", "NHWC")
ACTIVATIONS = (None, "relu", "relu6")
# Every conv2d algorithm name: the union of what the backends implement (the `algorithms` of each
# backend, declared in kernels/backends/<name>/algorithms.py) and "auto". A call's name is checked
# against it first, one message for every backend; the chosen backend then checks that it
# implements the name and resolves "auto" (Backend.choose_algorithm).
ALGORITHMS = ("auto", "im2col", "convgemm", "gemm", "direct", "winograd")


class ConvSpec(NamedTuple):
    """Normalised options of one convolution (shape-independent except "same" padding)."""

    stride: Tuple[int, int]
    padding: Any  # (top, bottom, left, right), or "same" until the kernel size is known
    dilation: Tuple[int, int]
    groups: int
    layout: str
    activation: str  # "" for none


class ConvShape(NamedTuple):
    n: int
    c: int
    h: int
    w: int
    k: int
    r: int
    s: int
    ho: int
    wo: int
    padding: Tuple[int, int, int, int]

    def out_shape(self, layout: str) -> Tuple[int, int, int, int]:
        return (self.n, self.k, self.ho, self.wo) if layout == "NCHW" else (self.n, self.ho, self.wo, self.k)


# Upper bound of every integer option (stride, padding, dilation, groups, kernel size): far
# beyond any real layer, and small enough that the output geometry of any valid call stays
# exact in the kernels' 64-bit index arithmetic (sizes are products of at most three of them).
INT_MAX = 2**31 - 1
_MAX_ELEMENTS = 2**60  # float64 elements whose byte count still fits a signed 64-bit size


def _int(fn: str, name: str, v: Any) -> int:
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{fn}: {name} must be an integer, got {v!r}")
    try:
        i = operator.index(v)
    except TypeError:
        raise TypeError(f"{fn}: {name} must be an integer or a sequence of integers, got {v!r}") from None
    if i > INT_MAX:
        raise ValueError(f"{fn}: {name} must be at most {INT_MAX} (2**31 - 1), got {v!r}")
    return i


def integer(fn: str, name: str, v: Any, lo: int) -> int:
    """One integer option, >= lo (and <= INT_MAX)."""
    i = _int(fn, name, v)
    if i < lo:
        raise ValueError(f"{fn}: {name} must be >= {lo}, got {v!r}")
    return i


def dims(fn: str, name: str, shape: Any, rank: int) -> Tuple[int, ...]:
    """A shape given as a sequence of `rank` non-negative integers (conv2d_workspace's x_shape and
    w_shape), each at most 2**31 - 1."""
    if not isinstance(shape, (tuple, list)) or len(shape) != rank:
        raise ValueError(f"{fn}: {name} must be a sequence of {rank} integers, got {shape!r}")
    out = tuple(_int(fn, name, d) for d in shape)
    if any(d < 0 for d in out):
        raise ValueError(f"{fn}: {name} must not have negative dimensions, got {shape!r}")
    return out


def pair(fn: str, name: str, v: Any, lo: int) -> Tuple[int, int]:
    """An int or a pair of ints, each >= lo."""
    vals = (v, v) if not isinstance(v, (tuple, list)) else tuple(v)
    if len(vals) != 2:
        raise ValueError(f"{fn}: {name} must be an int or a pair (h, w), got {v!r}")
    a, b = (_int(fn, name, x) for x in vals)
    if a < lo or b < lo:
        raise ValueError(f"{fn}: {name} must be >= {lo}, got {v!r}")
    return a, b


def padding4(fn: str, v: Any, stride: Tuple[int, int]) -> Any:
    """(top, bottom, left, right) from an int, a pair, a 4-tuple or "valid"; "same" is resolved
    later against the kernel size (and needs stride 1)."""
    if isinstance(v, str):
        if v == "valid":
            return (0, 0, 0, 0)
        if v == "same":
            if stride != (1, 1):
                raise ValueError(f"{fn}: padding='same' needs stride 1, got stride={stride}")
            return "same"
        raise ValueError(f"{fn}: padding must be an int, a pair, a 4-tuple, 'same' or 'valid', got {v!r}")
    vals = tuple(v) if isinstance(v, (tuple, list)) else (v,)
    if len(vals) not in (1, 2, 4):
        raise ValueError(f"{fn}: padding must be an int, a pair (h, w) or a 4-tuple (top, bottom, left, right), got {v!r}")
    vals = tuple(_int(fn, "padding", x) for x in vals)
    if any(x < 0 for x in vals):
        raise ValueError(f"{fn}: padding must be >= 0, got {v!r}")
    if len(vals) == 1:
        return (vals[0],) * 4
    if len(vals) == 2:
        return (vals[0], vals[0], vals[1], vals[1])
    return vals


def make_spec(fn: str, stride: Any, padding: Any, dilation: Any, groups: Any, layout: Any, activation: Any) -> ConvSpec:
    st = pair(fn, "stride", stride, 1)
    dil = pair(fn, "dilation", dilation, 1)
    g = integer(fn, "groups", groups, 1)
    if layout not in LAYOUTS:
        raise ValueError(f"{fn}: layout must be 'NCHW' or 'NHWC', got {layout!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"{fn}: activation must be None, 'relu' or 'relu6', got {activation!r}")
    return ConvSpec(st, padding4(fn, padding, st), dil, g, layout, activation or "")


def check_algorithm(fn: str, algorithm: Any) -> str:
    if algorithm not in ALGORITHMS:
        raise ValueError(f"{fn}: algorithm must be one of {', '.join(map(repr, ALGORITHMS))}, got {algorithm!r}")
    return algorithm


def pointwise(shape: ConvShape, spec: ConvSpec) -> bool:
    """1x1 kernel, stride 1, no padding: the layer is one GEMM on x as it lies (algorithm "gemm")."""
    return shape.r == shape.s == 1 and spec.stride == (1, 1) and shape.padding == (0, 0, 0, 0)


def winograd_layer(shape: ConvShape, spec: ConvSpec) -> bool:
    """3x3 kernel, stride 1, dilation 1, one group: what Winograd F(2x2, 3x3) computes (algorithm "winograd")."""
    return shape.r == shape.s == 3 and spec.stride == (1, 1) and spec.dilation == (1, 1) and spec.groups == 1


def resolve_padding(spec: ConvSpec, r: int, s: int) -> Tuple[int, int, int, int]:
    if spec.padding != "same":
        return spec.padding
    th, tw = spec.dilation[0] * (r - 1), spec.dilation[1] * (s - 1)
    return (th // 2, th - th // 2, tw // 2, tw - tw // 2)  # the odd pixel goes bottom/right, as in PyTorch


def shape_of(fn: str, x_shape: Tuple[int, ...], w_shape: Tuple[int, ...], spec: ConvSpec) -> ConvShape:
    """Checks x against w and the options; the output geometry."""
    if len(x_shape) != 4:
        raise ValueError(f"{fn}: x must be 4-D {'(N, C, H, W)' if spec.layout == 'NCHW' else '(N, H, W, C)'} for layout {spec.layout!r}, got shape {tuple(x_shape)}")
    if len(w_shape) != 4:
        raise ValueError(f"{fn}: w must be 4-D (K, C/groups, R, S), got shape {tuple(w_shape)}")
    if spec.layout == "NCHW":
        n, c, h, w = x_shape
    else:
        n, h, w, c = x_shape
    k, cg, r, s = w_shape
    g = spec.groups
    if c % g or k % g:
        raise ValueError(f"{fn}: groups={g} must divide the input channels ({c}) and the output channels ({k})")
    if cg * g != c:
        raise ValueError(f"{fn}: w has {cg} input channels per group (shape {tuple(w_shape)}) but x has {c} channels in {g} group(s): w.shape[1] must be {c // g}")
    if r < 1 or s < 1:
        raise ValueError(f"{fn}: the kernel must be at least 1x1, got {r}x{s}")
    pad = resolve_padding(spec, r, s)
    (sh, sw), (dh, dw) = spec.stride, spec.dilation
    ho = (h + pad[0] + pad[1] - dh * (r - 1) - 1) // sh + 1
    wo = (w + pad[2] + pad[3] - dw * (s - 1) - 1) // sw + 1
    if ho < 1 or wo < 1:
        raise ValueError(
            f"{fn}: the kernel ({r}x{s}, dilation {spec.dilation}, extent {dh * (r - 1) + 1}x{dw * (s - 1) + 1}) is larger than the padded input "
            f"({h + pad[0] + pad[1]}x{w + pad[2] + pad[3]})"
        )
    out = ConvShape(n, c, h, w, k, r, s, ho, wo, pad)
    if n * k * ho * wo >= _MAX_ELEMENTS:  # NumPy's own message would not say which call
        raise OverflowError(f"{fn}: the output {out.out_shape(spec.layout)} is too large: its {n * k * ho * wo} "
                            "elements of up to 8 bytes: their size exceeds 2^63 bytes")
    return out


def channel_vector(fn: str, name: str, v: Any, k: int, dtype: np.dtype) -> Optional[np.ndarray]:
    """bias/scale/shift: None, or a (K,) array of the conv's dtype (array-likes are converted;
    arrays of another dtype are an error, never a silent cast)."""
    if v is None:
        return None
    if not isinstance(v, np.ndarray):
        v = np.asarray(v, dtype=dtype)
    check_vector(fn, name, v, k, dtype)
    return np.ascontiguousarray(v)


def check_vector(fn: str, name: str, v: Any, k: int, dtype: np.dtype) -> None:
    """dtype and shape of a bias/scale/shift array (NumPy or a backend's device array)."""
    if v.dtype != dtype:
        raise TypeError(f"{fn}: {name} has dtype {v.dtype} but x and w are {dtype}")
    if tuple(v.shape) != (k,):
        raise ValueError(f"{fn}: {name} must have shape ({k},) (one value per output channel), got {tuple(v.shape)}")


def check_out(fn: str, out: Any, dtype: np.dtype, shape: ConvShape, layout: str, inputs) -> None:
    """out: the output check every backend shares (kernels/_validation.check_output: a writable,
    aligned ndarray of the result's dtype and shape, no element twice, overlapping no input),
    plus H and W forming one stride (stride_H == Wo * stride_W): the kernels address an image's
    output pixels as one index. Slices along N, C or with a step along W qualify; nothing is
    ever copied or cast. inputs: (name, array) pairs, None entries skipped."""
    check_output(fn, "out", out, dtype, shape.out_shape(layout), [(n, a) for n, a in inputs if a is not None])
    check_hw_stride(fn, out, shape, layout)


def same_view(a: Any, b: Any) -> bool:
    """a and b address the same elements in the same order: one array, or two views of one memory
    with equal data pointer, shape and strides (strides of dimensions of length 1 do not matter)."""
    if a is b:
        return True
    if tuple(a.shape) != tuple(b.shape):
        return False
    da, db = (getattr(v, "__array_interface__", {}).get("data", (None,))[0] for v in (a, b))
    if da is None or da != db:
        return False
    return all(sa == sb or n <= 1 for sa, sb, n in zip(a.strides, b.strides, a.shape))


def check_residual(fn: str, residual: Any, dtype: np.dtype, shape: ConvShape, layout: str, out: Any) -> None:
    """residual (y = act(scale*(conv + bias) + shift + residual)): an array of the output's dtype
    and shape, in the output's layout, with any strides (read in place, never written or cast).
    It may be out itself (the same memory and strides: y = conv + y in place); any other overlap
    with out is an error. The same checks, in this order, on every backend: dtype (TypeError),
    shape, overlap (ValueError)."""
    if residual.dtype != dtype:
        raise TypeError(f"{fn}: residual has dtype {residual.dtype} but the result is {dtype}; the residual must "
                        "have the output's dtype (never cast)")
    want = shape.out_shape(layout)
    if tuple(residual.shape) != want:
        raise ValueError(f"{fn}: residual has shape {tuple(residual.shape)}, expected the output's shape {want} "
                         f"(layout {layout!r})")
    if (out is not None and isinstance(out, np.ndarray) and isinstance(residual, np.ndarray) and out.size
            and not same_view(residual, out) and np.may_share_memory(out, residual)):
        raise ValueError(f"{fn}: residual and out share memory without being the same array view; pass "
                         "residual=out for an in-place sum (y = conv + y), or arrays that do not overlap")


def check_hw_stride(fn: str, out: Any, shape: ConvShape, layout: str) -> None:
    """The output's H and W dimensions must form one stride (NumPy or a backend's device array). With
    one output column W's stride is never applied (NumPy gives a size-1 axis any stride and still
    calls the array contiguous): the backends then step pixels by H's stride (pixel_stride)."""
    hax, wax = (2, 3) if layout == "NCHW" else (1, 2)
    if shape.ho > 1 and shape.wo > 1 and out.strides[hax] != shape.wo * out.strides[wax]:
        raise ValueError(
            f"{fn}: out must have its H and W dimensions contiguous with each other (stride of H == Wo * stride "
            f"of W), got strides {out.strides}; slice along N or C only"
        )


def pixel_stride(h_stride: int, w_stride: int, wo: int) -> int:
    """The stride of an output-shaped array's pixels as one index j = ho*Wo + wo: W's, or H's when
    there is one output column (W's is then arbitrary: a size-1 axis)."""
    return h_stride if wo == 1 else w_stride


def epilogue_of_zero(bias, scale, shift, activation: str, k: int, dtype) -> np.ndarray:
    """The (K,) output of a layer with no input channels (C == 0: every sum is empty):
    activation(scale * (0 + bias) + shift), the vectors NumPy arrays or None."""
    v = np.zeros(k, dtype)
    if bias is not None:
        v += bias
    if scale is not None:
        v *= scale
    if shift is not None:
        v += shift
    if activation:
        v = np.clip(v, 0, 6 if activation == "relu6" else None)
    return v
