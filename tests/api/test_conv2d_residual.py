"""conv2d's residual term (oneDNN's "sum" post-op): y = act(scale*(conv + bias) + shift + residual).

Against the float64 oracle of tests/_conv_reference.py on every backend here (cpu on every ISA
this CPU runs, reference, numba, opencl on PoCL): exact integer data for every algorithm x layout x
activation over layers that reach each cpu path (blocked GEMM, unpacked GEMM, 1x1, groups, the
batch-reduce direct kernel, depthwise NCHW/NHWC and its avx512 rows, Winograd, NCHW planes through
NHWC copies, an empty reduction), random data within the K-scaled bound, residual=out in place
(including reductions long enough to be split into several k blocks, whose partial sums go
through y), strided residual views, NaN propagation, Conv2d plans and the argument errors.
"""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels
from _conv_cases import LAYERS, Layer, layer_algorithms
from _conv_reference import conv2d_ref, conv2d_ref_and_bound, int_operands, normal_operands, output_shape
from _helpers import DTYPES, assert_within_bound, dt_id

ACTS = (None, "relu", "relu6")
LAYOUTS = ("NCHW", "NHWC")

_BY_NAME = {l.name: l for l in LAYERS}
# One layer per cpu path (see the module docstring); the reduction of "c80-3x3" (720) exceeds the
# engine's KC, so its blocked products write y more than once.
PATH_LAYERS = [
    _BY_NAME["3x3-pad1-b3"],
    _BY_NAME["3x3-s2-c17-k33"],
    _BY_NAME["1x1-c17-k19"],
    _BY_NAME["1x1-g2-b3"],
    _BY_NAME["3x3-same-g2"],
    _BY_NAME["dw-c33-s2"],
    _BY_NAME["dw-3x3-wide-c20"],
    _BY_NAME["dw-s3-d2-5x5"],
    _BY_NAME["3x3-plane-66x70-c16"],
    _BY_NAME["3x3-winograd-c64-k70-b2"],
    _BY_NAME["3x3-winograd-c67-k64-asym"],
    _BY_NAME["7x7-s2-p3-stem"],
    Layer("c80-3x3", 2, 80, 6, 7, 24, (3, 3), padding=1),
]
SLOW_LAYERS = ("3x3-plane-66x70-c16", "3x3-winograd-c64-k70-b2", "3x3-winograd-c67-k64-asym")


def _backends():
    out = ["cpu", "reference"]
    try:
        import numba  # noqa: F401
        out.append("numba")
    except ImportError:
        pass
    from hpc_kernels.backends import opencl

    if opencl.backend.available:
        out.append("opencl")
    return out


BACKENDS = _backends()


def _residual(rng, shape, dtype, lo=-20, hi=20):
    return rng.integers(lo, hi + 1, size=shape).astype(dtype)


def _conv(layer, ops, layout, act, algorithm="auto", backend="cpu", **extra):
    return hpc_kernels.conv2d(ops["x"], ops["w"], ops["bias"], scale=ops["scale"], shift=ops["shift"], activation=act,
                              algorithm=algorithm, backend=backend, **layer.geo(layout), **extra)


def _ref(layer, ops, layout, act, residual):
    return conv2d_ref(ops["x"], ops["w"], ops["bias"], scale=ops["scale"], shift=ops["shift"], activation=act,
                      residual=residual, **layer.geo(layout))


def _algorithms(layer, layout, backend):
    """The layer's algorithms that the backend implements (the others raise ValueError there)."""
    implemented = set(hpc_kernels.get_backend(backend).algorithms) | {"auto"}
    return [a for a in layer_algorithms(layer, layout) if a in implemented]


def _exact_cases():
    for li, layer in enumerate(PATH_LAYERS):
        for backend in BACKENDS:
            if backend != "cpu" and layer.name in SLOW_LAYERS:
                continue  # the slow Python backends: this layer is for the cpu's NHWC-copy path
            for layout in LAYOUTS:
                for ai, alg in enumerate(_algorithms(layer, layout, backend)):
                    act = ACTS[(li + ai) % 3]
                    yield pytest.param(layer, alg, layout, act, backend, id=f"{layer.name}-{alg}-{layout}-{act}-{backend}")


@pytest.mark.parametrize("layer,algorithm,layout,act,backend", list(_exact_cases()))
def test_residual_exact_integer_data(layer, algorithm, layout, act, backend, rng):
    """Integer data: bias, scale, shift and the residual, every algorithm and layout: exact."""
    dtype = np.float32
    ops = int_operands(rng, layer.x_shape(layout), layer.w_shape, dtype, bias=True, scale=True, shift=True)
    r = _residual(rng, output_shape(layer.x_shape(layout), layer.w_shape, layer.stride, layer.padding, layer.dilation,
                                    layout), dtype)
    got = _conv(layer, ops, layout, act, algorithm, backend, residual=r)
    ref = _ref(layer, ops, layout, act, r)
    assert got.dtype == dtype and got.shape == ref.shape
    assert np.array_equal(got, ref), f"{layer} {algorithm} {layout} {act} {backend}: {int((got != ref).sum())} differ"


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_residual_random_within_bound(backend, layout, dtype, rng):
    """Random normal data (residual included) within the float64 oracle's K-scaled bound."""
    for layer in (_BY_NAME["3x3-s2-c17-k33"], _BY_NAME["dw-c33-s2"], _BY_NAME["1x1-g2-b3"]):
        for alg in _algorithms(layer, layout, backend):
            ops = normal_operands(rng, layer.x_shape(layout), layer.w_shape, dtype, bias=True, scale=True, shift=True)
            ys = output_shape(layer.x_shape(layout), layer.w_shape, layer.stride, layer.padding, layer.dilation, layout)
            r = rng.standard_normal(ys).astype(dtype)
            got = _conv(layer, ops, layout, "relu", alg, backend, residual=r)
            ref, bound = conv2d_ref_and_bound(ops["x"], ops["w"], ops["bias"], scale=ops["scale"], shift=ops["shift"],
                                              activation="relu", residual=r, **layer.geo(layout))
            assert_within_bound(got, ref, bound, f"{layer.name} {alg} {layout} {backend}")


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("layer", PATH_LAYERS, ids=lambda l: l.name)
def test_residual_engines_exact(cpu_engine, layer, layout, rng):
    """Every cpu engine configuration (generic, avx2, avx512; tiny blocks; forced kernels)."""
    for alg in layer_algorithms(layer, layout):
        ops = int_operands(rng, layer.x_shape(layout), layer.w_shape, np.float64, bias=True, scale=True, shift=True)
        ys = output_shape(layer.x_shape(layout), layer.w_shape, layer.stride, layer.padding, layer.dilation, layout)
        r = _residual(rng, ys, np.float64)
        got = _conv(layer, ops, layout, "relu6", alg, cpu_engine, residual=r)
        assert np.array_equal(got, _ref(layer, ops, layout, "relu6", r)), f"{layer.name} {alg}"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("layer", PATH_LAYERS, ids=lambda l: l.name)
def test_residual_is_out_in_place(layer, layout, backend, rng):
    """residual=out: y = act(conv + y) in place, also where y receives partial sums first."""
    if backend != "cpu" and layer.name in SLOW_LAYERS:
        pytest.skip("a layer for the cpu's own paths (slow on the Python backends)")
    for alg in _algorithms(layer, layout, backend):
        ops = int_operands(rng, layer.x_shape(layout), layer.w_shape, np.float32, bias=True)
        ys = output_shape(layer.x_shape(layout), layer.w_shape, layer.stride, layer.padding, layer.dilation, layout)
        y = _residual(rng, ys, np.float32)
        ref = _ref(layer, ops, layout, "relu", y.copy())
        got = _conv(layer, ops, layout, "relu", alg, backend, residual=y, out=y)
        assert got is y
        assert np.array_equal(y, ref), f"{layer.name} {alg}: {int((y != ref).sum())} differ"


def _views(rng, ys, dtype, layout):
    """Residual views of other strides than a fresh output: a channel slice, a step along W, both
    spatial axes stepped (H and W no longer one stride), reversed channels, a transposed copy."""
    n, a, b, c = ys
    cax = 1 if layout == "NCHW" else 3
    big = _residual(rng, (n, a * 2, b * 2, c * 3), dtype)
    yield "spatial-steps", big[:, :a, ::2, ::3][:, :, :b, :c]
    chan = [slice(None)] * 4
    bigc = _residual(rng, tuple(d * 2 if i == cax else d for i, d in enumerate(ys)), dtype)
    chan[cax] = slice(1, 1 + ys[cax])
    yield "channel-slice", bigc[tuple(chan)]
    rev = [slice(None)] * 4
    rev[cax] = slice(None, None, -1)
    yield "channels-reversed", _residual(rng, ys, dtype)[tuple(rev)]
    other = (0, 2, 3, 1) if layout == "NCHW" else (0, 3, 1, 2)
    t = _residual(rng, tuple(ys[i] for i in other), dtype)
    yield "other-layout-memory", t.transpose(np.argsort(other))
    wstep = _residual(rng, ys[:-1] + (ys[-1] * 2,), dtype)
    yield "last-axis-step", wstep[..., ::2]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_residual_strided_views(layout, backend, rng):
    """Residual views of any strides are read in place (or copied by the engine where it must)."""
    for layer in (_BY_NAME["3x3-pad1-b3"], _BY_NAME["dw-c33-s2"], _BY_NAME["1x1-c17-k19"],
                  _BY_NAME["3x3-winograd-c64-k70-b2"]):
        ys = output_shape(layer.x_shape(layout), layer.w_shape, layer.stride, layer.padding, layer.dilation, layout)
        for name, r in _views(rng, ys, np.float32, layout):
            assert r.shape == ys, name
            before = r.copy()
            for alg in _algorithms(layer, layout, backend):
                ops = int_operands(rng, layer.x_shape(layout), layer.w_shape, np.float32, shift=True)
                got = _conv(layer, ops, layout, "relu", alg, backend, residual=r)
                assert np.array_equal(got, _ref(layer, ops, layout, "relu", r)), f"{layer.name} {name} {alg}"
            assert np.array_equal(r, before), "the residual was written"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_one_output_column_any_w_stride(layout, backend, rng):
    """With one output column (Wo == 1) the W axis of out and of the residual may carry any stride
    (NumPy calls such an array contiguous: np.ascontiguousarray returns it unchanged); the kernels,
    which step an image's pixels as one index, step them by H's stride then. The fuzzer found the
    residual read at j * (W stride) instead, past the array, on cpu and opencl (a wrong answer)."""
    layer = Layer("wo1-s3", 1, 2, 12, 4, 4, (1, 4), stride=3)  # Ho = 4, Wo = 1
    ys = output_shape(layer.x_shape(layout), layer.w_shape, layer.stride, layer.padding, layer.dilation, layout)
    wax = 3 if layout == "NCHW" else 2
    item = np.dtype(np.float32).itemsize

    def odd_w(a):  # the same elements, W's stride 16 elements (never applied)
        st = list(a.strides)
        st[wax] = 16 * item
        return np.lib.stride_tricks.as_strided(a, a.shape, st)

    guard = np.full(4 * int(np.prod(ys)) + 64, np.nan, np.float32)  # what a stray read or write would hit
    r = odd_w(guard[: int(np.prod(ys))].reshape(ys))
    r[...] = _residual(rng, ys, np.float32)
    assert r.flags.c_contiguous
    for alg in _algorithms(layer, layout, backend):
        ops = int_operands(rng, layer.x_shape(layout), layer.w_shape, np.float32, shift=True)
        want = _ref(layer, ops, layout, "relu", np.array(r))
        got = _conv(layer, ops, layout, "relu", alg, backend, residual=r)
        assert np.array_equal(got, want), f"{alg}: residual"
        out_mem = np.full(4 * int(np.prod(ys)) + 64, -7.0, np.float32)
        out = odd_w(out_mem[: int(np.prod(ys))].reshape(ys))
        assert _conv(layer, ops, layout, "relu", alg, backend, residual=r, out=out) is out
        assert np.array_equal(out, want), f"{alg}: out"
        written = np.zeros(out_mem.shape, bool)
        written[: int(np.prod(ys))] = True
        assert np.all(out_mem[~written] == -7.0), f"{alg}: written outside out"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("act", ACTS)
def test_nan_in_residual_propagates(act, layout, backend, rng):
    """NaN in the residual gives NaN in y at that element only, through relu/relu6 too."""
    for layer in (_BY_NAME["3x3-s2-c17-k33"], _BY_NAME["dw-c33-s2"]):
        ys = output_shape(layer.x_shape(layout), layer.w_shape, layer.stride, layer.padding, layer.dilation, layout)
        for alg in _algorithms(layer, layout, backend):
            ops = int_operands(rng, layer.x_shape(layout), layer.w_shape, np.float32, bias=True)
            r = _residual(rng, ys, np.float32)
            mask = rng.random(ys) < 0.1
            r[mask] = np.nan
            got = _conv(layer, ops, layout, act, alg, backend, residual=r)
            assert np.array_equal(np.isnan(got), mask), f"{layer.name} {alg}"
            assert np.array_equal(got[~mask], _ref(layer, ops, layout, act, r)[~mask])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_empty_reduction_and_batch_zero(layout, backend, rng):
    """C == 0: y = act(epilogue(0) + residual); N == 0: nothing to do, no error."""
    x = np.zeros((2, 0, 5, 6) if layout == "NCHW" else (2, 5, 6, 0), np.float32)
    w = np.zeros((4, 0, 3, 3), np.float32)
    b = np.arange(4, dtype=np.float32) - 2
    ys = output_shape(x.shape, w.shape, 1, 1, 1, layout)
    r = _residual(rng, ys, np.float32, -3, 3)
    got = hpc_kernels.conv2d(x, w, b, padding=1, layout=layout, activation="relu", residual=r, backend=backend)
    assert np.array_equal(got, conv2d_ref(x, w, b, padding=1, layout=layout, activation="relu", residual=r))
    x0 = np.zeros((0, 3, 5, 6) if layout == "NCHW" else (0, 5, 6, 3), np.float32)
    w0 = np.ones((4, 3, 3, 3), np.float32)
    r0 = np.zeros(output_shape(x0.shape, w0.shape, 1, 1, 1, layout), np.float32)
    assert hpc_kernels.conv2d(x0, w0, padding=1, layout=layout, residual=r0, backend=backend).shape == r0.shape


# Plans reach paths one-shot calls do not: the cpu's NHWC 1x1 layers with few channels read the
# image unpacked against the prepacked weights (groups; two weight panels, the second a half one).
PLAN_LAYERS = [_BY_NAME["3x3-s2-c17-k33"], _BY_NAME["1x1-g2-b3"], Layer("1x1-c24-k40-b2", 2, 24, 9, 7, 40, (1, 1))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("layer", PLAN_LAYERS, ids=lambda l: l.name)
def test_plan_with_residual(layer, layout, backend, rng):
    """Conv2d(...)(x, residual=r) and (x, out=o, residual=r) and in place equal the one-shot call."""
    ops = int_operands(rng, layer.x_shape(layout), layer.w_shape, np.float32, bias=True, scale=True)
    plan = hpc_kernels.Conv2d(ops["w"], ops["bias"], scale=ops["scale"], activation="relu6", backend=backend,
                              **layer.geo(layout))
    ys = output_shape(layer.x_shape(layout), layer.w_shape, layer.stride, layer.padding, layer.dilation, layout)
    r = _residual(rng, ys, np.float32)
    ref = conv2d_ref(ops["x"], ops["w"], ops["bias"], scale=ops["scale"], activation="relu6", residual=r,
                     **layer.geo(layout))
    assert np.array_equal(plan(ops["x"], residual=r), ref)
    out = np.full(ys, np.nan, np.float32)
    assert plan(ops["x"], out=out, residual=r) is out and np.array_equal(out, ref)
    y = r.copy()
    assert plan(ops["x"], out=y, residual=y) is y and np.array_equal(y, ref)
    assert np.array_equal(plan(ops["x"]), conv2d_ref(ops["x"], ops["w"], ops["bias"], scale=ops["scale"],
                                                     activation="relu6", **layer.geo(layout)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_residual_errors(backend):
    """dtype: TypeError; shape and overlap with out: ValueError; each names the residual."""
    x = np.ones((1, 3, 6, 6), np.float32)
    w = np.ones((4, 3, 3, 3), np.float32)
    ys = (1, 4, 4, 4)
    with pytest.raises(TypeError, match="residual has dtype float64"):
        hpc_kernels.conv2d(x, w, residual=np.zeros(ys), backend=backend)
    with pytest.raises(ValueError, match=r"residual has shape \(1, 4, 4, 5\)"):
        hpc_kernels.conv2d(x, w, residual=np.zeros((1, 4, 4, 5), np.float32), backend=backend)
    with pytest.raises(ValueError, match=r"residual has shape \(1, 5, 4, 4\), expected the output's shape "
                       r"\(1, 4, 4, 5\) \(layout 'NHWC'\)"):
        hpc_kernels.conv2d(np.ones((1, 6, 6, 4), np.float32), np.ones((5, 4, 3, 3), np.float32), layout="NHWC",
                           residual=np.zeros((1, 5, 4, 4), np.float32), backend=backend)
    big = np.zeros((1, 8, 4, 4), np.float32)  # channel slices: valid outputs, overlapping
    with pytest.raises(ValueError, match="residual and out share memory"):
        hpc_kernels.conv2d(x, w, out=big[:, :4], residual=big[:, 2:6], backend=backend)
    # dtype is checked before shape (the same order on every backend)
    with pytest.raises(TypeError, match="residual"):
        hpc_kernels.conv2d(x, w, residual=np.zeros((2, 2), np.float64), backend=backend)
    plan = hpc_kernels.Conv2d(w, backend=backend)
    with pytest.raises(TypeError, match="Conv2d: residual has dtype float64"):
        plan(x, residual=np.zeros(ys))
    with pytest.raises(ValueError, match="Conv2d: residual has shape"):
        plan(x, residual=np.zeros((1, 4, 4), np.float32))


def test_cpu_entry_checks_residual_itself():
    """The pybind entry re-checks what the front end checks (a direct call cannot misuse memory)."""
    from hpc_kernels import _cpu

    x = np.ones((1, 3, 6, 6), np.float32)
    w = np.ones((4, 3, 3, 3), np.float32)
    out = np.empty((1, 4, 4, 4), np.float32)
    args = (x, w, None, None, None, out, (1, 1), (0, 0, 0, 0), (1, 1), 1, "NCHW", "", "convgemm")
    with pytest.raises(TypeError, match="residual has dtype float64"):
        _cpu.conv2d(*args, residual=np.zeros((1, 4, 4, 4)))
    with pytest.raises(ValueError, match="residual has shape"):
        _cpu.conv2d(*args, residual=np.zeros((1, 4, 4, 5), np.float32))
    with pytest.raises(TypeError, match="residual must be None or a NumPy array"):
        _cpu.conv2d(*args, residual=[1.0])
    big = np.zeros((1, 8, 4, 4), np.float32)
    with pytest.raises(ValueError, match="residual"):
        _cpu.conv2d(x, w, None, None, None, big[:, :4], (1, 1), (0, 0, 0, 0), (1, 1), 1, "NCHW", "", "convgemm",
                    residual=big[:, 2:6])
    r = np.full((1, 4, 4, 4), 2.0, np.float32)
    _cpu.conv2d(*args, residual=r)
    assert np.array_equal(out, np.full((1, 4, 4, 4), 29.0, np.float32))
