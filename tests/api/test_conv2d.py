"""hpc_kernels.conv2d against the float64 reference of tests/_conv_reference.py.

The sweep: a curated list of layers (stride, every padding form, dilation, groups up to depthwise,
1x1 / 3x3 / 5x5 / 7x7 / non-square kernels, kernels larger than the input, odd channel counts,
small non-square images, batch 0 / 1 / 3), each run with every algorithm that applies to it and
both dtypes; layout and epilogue are cycled over the cases so that every pair of (layout,
algorithm, epilogue, dtype) values occurs (checked by test_sweep_covers_all_pairs) without a full
cartesian product. Integer-valued data must match the reference exactly; random normal data must
lie within the elementwise bound (2*Kd + 8) * eps * magnitude.

Then: NaN / Inf propagation, out= semantics (NaN-filled out fully overwritten, channel slices of
a bigger array, nothing outside written), non-contiguous and array-like inputs, larger layers
that exercise the blocking of the cpu engine, thread counts and the reference backend.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import hpc_kernels
from _conv_cases import (  # the sweep (layers, epilogues, cases), shared with the numba and opencl tests
    BOUND_CASES,
    EPI_NAMES,
    EPILOGUES,
    EXACT_CASES,
    LAYERS,
    LAYOUTS,
    Case,
    Layer,
    describe,
    layer_algorithms,
    run_conv,
)
from _conv_reference import (
    applicable_algorithms,
    conv2d_ref,
    conv2d_ref_and_bound,
    int_operands,
    nan_mask_ref,
    normal_operands,
    output_shape,
)
from _helpers import DTYPES, assert_within_bound, dt_id


@pytest.mark.parametrize("case", EXACT_CASES, ids=lambda c: c.id)
def test_sweep_exact_integer_data(case: Case, rng):
    """Integer-valued operands: every partial sum is exact, so the result equals the reference."""
    layer, epi = case.layer, EPILOGUES[case.epilogue]
    ops = int_operands(rng, layer.x_shape(case.layout), layer.w_shape, case.dtype,
                       bias=epi.get("bias", False), scale=epi.get("scale", False), shift=epi.get("shift", False))
    act = epi.get("activation")
    got = run_conv(layer, ops, case.algorithm, case.layout, act)
    expected_shape = output_shape(layer.x_shape(case.layout), layer.w_shape, layer.stride, layer.padding,
                                  layer.dilation, case.layout)
    assert isinstance(got, np.ndarray) and got.dtype == np.dtype(case.dtype), describe(case)
    assert got.shape == expected_shape, f"{describe(case)}: shape {got.shape}, expected {expected_shape}"
    ref = conv2d_ref(ops["x"], ops["w"], ops["bias"], scale=ops["scale"], shift=ops["shift"], activation=act,
                     **layer.geo(case.layout))
    if not np.array_equal(got, ref):
        bad = np.argwhere(got != ref)
        idx = tuple(int(i) for i in bad[0])
        pytest.fail(f"{describe(case)}: {len(bad)} of {got.size} elements differ; first at {idx}: "
                    f"got {got[idx]!r}, expected {ref[idx]!r}")


@pytest.mark.parametrize("case", BOUND_CASES, ids=lambda c: c.id)
def test_sweep_random_within_bound(case: Case, rng):
    """Random normal operands: within the elementwise bound of the float64 reference."""
    layer, epi = case.layer, EPILOGUES[case.epilogue]
    ops = normal_operands(rng, layer.x_shape(case.layout), layer.w_shape, case.dtype,
                          bias=epi.get("bias", False), scale=epi.get("scale", False), shift=epi.get("shift", False))
    act = epi.get("activation")
    got = run_conv(layer, ops, case.algorithm, case.layout, act)
    assert got.dtype == np.dtype(case.dtype), describe(case)
    ref, bound = conv2d_ref_and_bound(ops["x"], ops["w"], ops["bias"], scale=ops["scale"], shift=ops["shift"],
                                      activation=act, **layer.geo(case.layout))
    assert_within_bound(got, ref, bound, describe(case))


def test_sweep_covers_all_pairs():
    """Sanity of the case table: the cycling reaches every pair of the varied dimensions, every
    algorithm appears with both layouts and every epilogue, and each layer with both layouts."""
    cases = EXACT_CASES + BOUND_CASES
    algs = {"auto", "im2col", "convgemm", "gemm", "direct", "winograd"}
    dims = {
        "layout": (lambda c: c.layout, set(LAYOUTS)),
        "algorithm": (lambda c: c.algorithm, algs),
        "epilogue": (lambda c: c.epilogue, set(EPI_NAMES)),
        "dtype": (lambda c: dt_id(c.dtype), {dt_id(d) for d in DTYPES}),
    }
    for (n1, (f1, v1)), (n2, (f2, v2)) in itertools.combinations(dims.items(), 2):
        if {n1, n2} == {"algorithm", "epilogue"}:
            continue  # gemm / direct apply to few layers: checked below for the common algorithms
        seen = {(f1(c), f2(c)) for c in cases}
        missing = {(a, b) for a in v1 for b in v2} - seen
        assert not missing, f"{n1} x {n2} pairs never tested: {sorted(missing)}"
    seen = {(c.algorithm, c.epilogue) for c in cases}
    for alg in ("auto", "im2col", "convgemm"):
        assert {e for a, e in seen if a == alg} == set(EPI_NAMES), alg
    for alg in ("gemm", "direct"):
        assert len({e for a, e in seen if a == alg}) >= 4, alg
    for layer in LAYERS:
        assert {c.layout for c in cases if c.layer == layer} == set(LAYOUTS), layer.name


# --------------------------------------------------------------------------------------------
# Argument forms, shapes
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
def test_default_arguments(layout, rng):
    """conv2d(x, w): stride 1, no padding, dilation 1, one group, no epilogue."""
    x_shape = (2, 4, 7, 6) if layout == "NCHW" else (2, 7, 6, 4)
    ops = int_operands(rng, x_shape, (5, 4, 3, 3), np.float32)
    got = hpc_kernels.conv2d(ops["x"], ops["w"], layout=layout)
    assert got.shape == ((2, 5, 5, 4) if layout == "NCHW" else (2, 5, 4, 5))
    assert np.array_equal(got, conv2d_ref(ops["x"], ops["w"], layout=layout))
    if layout == "NCHW":
        assert np.array_equal(hpc_kernels.conv2d(ops["x"], ops["w"]), got)


@pytest.mark.parametrize("algorithm", ["auto", "im2col", "convgemm"])
@pytest.mark.parametrize(
    "forms",
    [
        (1, (1, 1), (1, 1, 1, 1), [1, 1]),
        (0, "valid", (0, 0), (0, 0, 0, 0)),
        ((2, 1), (2, 2, 1, 1)),
        ("same", (1, 1), (1, 1, 1, 1)),  # 3x3, dilation 1
    ],
    ids=["p1", "p0", "pair", "same"],
)
def test_padding_forms_agree(forms, algorithm, rng):
    """int, pair, 4-tuple (and list) and string forms of the same padding give the same result."""
    ops = int_operands(rng, (2, 3, 8, 7), (4, 3, 3, 3), np.float32, bias=True)
    results = [hpc_kernels.conv2d(ops["x"], ops["w"], ops["bias"], padding=p, algorithm=algorithm) for p in forms]
    ref = conv2d_ref(ops["x"], ops["w"], ops["bias"], padding=forms[-1])
    for p, got in zip(forms, results):
        assert np.array_equal(got, ref), f"padding={p!r}"


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("stride,dilation", [((2, 1), (1, 1)), ((1, 3), (2, 1)), ([2, 3], [3, 2])])
def test_stride_dilation_pairs(layout, stride, dilation, rng):
    """stride and dilation as (h, w) pairs act per axis."""
    x_shape = (1, 3, 13, 12) if layout == "NCHW" else (1, 13, 12, 3)
    ops = int_operands(rng, x_shape, (5, 3, 3, 2), np.float64)
    got = hpc_kernels.conv2d(ops["x"], ops["w"], stride=stride, dilation=dilation, padding=(1, 2), layout=layout)
    ref = conv2d_ref(ops["x"], ops["w"], stride=stride, dilation=dilation, padding=(1, 2), layout=layout)
    assert got.shape == ref.shape and np.array_equal(got, ref)


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("groups", [1, 4])
def test_batch_zero(dtype, layout, groups):
    """N == 0: an empty output of the right shape and dtype."""
    x = np.zeros((0, 4, 6, 5) if layout == "NCHW" else (0, 6, 5, 4), dtype)
    w = np.ones((8, 4 // groups, 3, 3), dtype)
    got = hpc_kernels.conv2d(x, w, np.ones(8, dtype), padding=1, groups=groups, layout=layout, activation="relu")
    assert got.dtype == np.dtype(dtype)
    assert got.shape == ((0, 8, 6, 5) if layout == "NCHW" else (0, 6, 5, 8))


# --------------------------------------------------------------------------------------------
# NaN / Inf
# --------------------------------------------------------------------------------------------

NAN_LAYERS = [
    Layer("nan-3x3-p1-g2", 2, 6, 9, 8, 4, (3, 3), padding=1, groups=2),
    Layer("nan-3x3-s2-d2", 1, 5, 11, 10, 7, (3, 3), stride=2, dilation=2, padding=(1, 0, 2, 1)),
    Layer("nan-1x1", 2, 6, 5, 7, 5, (1, 1)),
    Layer("nan-dw-5x5", 2, 6, 9, 9, 6, (5, 5), padding="same", groups=6),
]


def _layer_cases(layers):
    """(layer, algorithm, layout) for every algorithm each layout allows."""
    for layer in layers:
        for layout in LAYOUTS:
            for alg in layer_algorithms(layer, layout):
                yield pytest.param(layer, alg, layout, id=f"{layer.name}-{alg}-{layout}")


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("layer,algorithm,layout", list(_layer_cases(NAN_LAYERS)))
def test_nan_in_x_propagates_to_its_receptive_field(layer, algorithm, layout, dtype, rng):
    """A NaN of x shows up in exactly the outputs whose receptive field holds it; the other outputs
    are the convolution of the rest (no NaN leaks through padding, tiles or the bias)."""
    ops = normal_operands(rng, layer.x_shape(layout), layer.w_shape, dtype, bias=True, scale=True, shift=True)
    x0 = ops["x"].copy()
    for _ in range(100):  # 3 NaNs, at least one inside some receptive field (strided layers skip pixels)
        x = x0.copy()
        x.reshape(-1)[rng.choice(x.size, size=3, replace=False)] = np.nan
        mask = nan_mask_ref(x, ops["w"], **layer.geo(layout))
        if mask.any():
            break
    assert mask.any() and not mask.all()  # the test means something
    ops["x"] = x
    got = run_conv(layer, ops, algorithm, layout, None)
    np.testing.assert_array_equal(np.isnan(got), mask, err_msg="NaN positions differ from the receptive fields")
    clean = dict(ops, x=np.where(np.isnan(x), 0, x).astype(dtype))
    ref, bound = conv2d_ref_and_bound(clean["x"], clean["w"], clean["bias"], scale=clean["scale"],
                                      shift=clean["shift"], **layer.geo(layout))
    assert_within_bound(np.where(mask, 0, got), np.where(mask, 0, ref), bound, "outputs without NaN")


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("algorithm", ["auto", "im2col", "convgemm"])
@pytest.mark.parametrize("groups", [1, 3])
def test_inf_in_w_propagates(groups, algorithm, layout, dtype, rng):
    """An Inf weight of output channel k makes every output of channel k +-Inf (x has no zeros and
    no padding, so no Inf*0); the other channels are unaffected."""
    C, K = 6, 9
    x_shape = (2, C, 7, 8) if layout == "NCHW" else (2, 7, 8, C)
    x = (rng.uniform(0.5, 1.5, x_shape) * rng.choice([-1.0, 1.0], x_shape)).astype(dtype)
    w = rng.standard_normal((K, C // groups, 3, 3)).astype(dtype)
    k0 = 4
    w[k0, 1, 2, 0] = np.inf
    got = hpc_kernels.conv2d(x, w, stride=(1, 2), groups=groups, layout=layout, algorithm=algorithm)
    ref = conv2d_ref(x, w, stride=(1, 2), groups=groups, layout=layout)
    chan = (slice(None), k0) if layout == "NCHW" else (slice(None), slice(None), slice(None), k0)
    assert np.all(np.isinf(ref[chan]))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
    np.testing.assert_array_equal(np.sign(got[chan]), np.sign(ref[chan]))
    assert not np.isnan(got).any()
    finite = np.isfinite(ref)
    _, bound = conv2d_ref_and_bound(x, np.where(np.isinf(w), 0, w), stride=(1, 2), groups=groups, layout=layout)
    assert_within_bound(got[finite], ref[finite], bound[finite], "channels without Inf")


# --------------------------------------------------------------------------------------------
# out=
# --------------------------------------------------------------------------------------------

OUT_LAYERS = [
    Layer("out-3x3", 2, 5, 9, 8, 7, (3, 3), padding=1),
    Layer("out-1x1", 3, 6, 5, 4, 8, (1, 1)),
    Layer("out-dw", 2, 6, 9, 7, 6, (3, 3), stride=2, padding="valid", groups=6),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("layer,algorithm,layout", list(_layer_cases(OUT_LAYERS)))
@pytest.mark.parametrize("poison", [np.nan, np.inf], ids=["nan", "inf"])
def test_out_poisoned_is_fully_overwritten(poison, layer, algorithm, layout, dtype, rng):
    """out= is written, never read (beta == 0): NaN / Inf in it do not leak; out is returned."""
    ops = int_operands(rng, layer.x_shape(layout), layer.w_shape, dtype, bias=True, scale=True, shift=True)
    shape = output_shape(layer.x_shape(layout), layer.w_shape, layer.stride, layer.padding, layer.dilation, layout)
    out = np.full(shape, poison, dtype)
    got = run_conv(layer, ops, algorithm, layout, "relu", out=out)
    assert got is out
    ref = conv2d_ref(ops["x"], ops["w"], ops["bias"], scale=ops["scale"], shift=ops["shift"], activation="relu",
                     **layer.geo(layout))
    assert np.array_equal(out, ref)


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("algorithm", ["auto", "im2col", "convgemm", "direct"])
@pytest.mark.parametrize("batch_step", [1, 2])
def test_out_channel_slice_of_bigger_array(batch_step, algorithm, dtype, rng):
    """NCHW out may be a channel slice big[:, 8:16] (any batch stride, each image's (K, Ho, Wo)
    block contiguous): the result lands there and nothing else of big is written."""
    N, C, K = 3, 8, 8
    groups = C if algorithm == "direct" else 2
    ops = int_operands(rng, (N, C, 7, 9), (K, C // groups, 3, 3), dtype, bias=True)
    big = np.full((N * batch_step, 24, 7, 9), 7.5, dtype)
    out = big[::batch_step, 8:16]
    assert not out.flags.c_contiguous
    got = hpc_kernels.conv2d(ops["x"], ops["w"], ops["bias"], padding=1, groups=groups, algorithm=algorithm, out=out)
    assert got is out
    ref = conv2d_ref(ops["x"], ops["w"], ops["bias"], padding=1, groups=groups)
    assert np.array_equal(big[::batch_step, 8:16], ref)
    untouched = np.ones(big.shape, bool)
    untouched[::batch_step, 8:16] = False
    assert np.all(big[untouched] == 7.5), "conv2d wrote outside the out slice"


@pytest.mark.parametrize("algorithm", ["auto", "im2col", "convgemm"])
def test_out_batch_zero(algorithm):
    out = np.zeros((0, 4, 5, 5), np.float32)
    got = hpc_kernels.conv2d(np.zeros((0, 2, 7, 7), np.float32), np.ones((4, 2, 3, 3), np.float32), out=out,
                         algorithm=algorithm)
    assert got is out


# --------------------------------------------------------------------------------------------
# Input memory layouts
# --------------------------------------------------------------------------------------------

def _x_views(rng, dtype):
    """(name, layout, x) with the same-purpose values in many memory layouts (and array-likes)."""
    base = rng.integers(-3, 4, size=(2, 9, 16, 18)).astype(dtype)
    nhwc_mem = np.ascontiguousarray(base[:, :5, :8, :9].transpose(0, 2, 3, 1))
    yield "spatial-step2", "NCHW", base[:, :5, ::2, ::2]
    yield "channel-slice", "NCHW", base[:, 2:7, :8, :9]
    yield "negative-strides", "NCHW", base[:, 4::-1, 7::-1, 8::-1]
    yield "fortran-order", "NCHW", np.asfortranarray(base[:, :5, :8, :9])
    yield "nchw-view-of-nhwc", "NCHW", nhwc_mem.transpose(0, 3, 1, 2)
    yield "nhwc-view-of-nchw", "NHWC", base[:, :5, :8, :9].transpose(0, 2, 3, 1)
    yield "nhwc-step2", "NHWC", np.ascontiguousarray(base.transpose(0, 2, 3, 1))[:, ::2, ::2, 1:6]
    yield "batch-step2", "NCHW", np.concatenate([base[:, :5, :8, :9]] * 2)[::2]
    if dtype == np.float64:  # nested lists of Python floats are float64
        yield "list", "NCHW", base[:1, :5, :6, :5].tolist()


VIEW_PARAMS = [pytest.param(name, dt, id=f"{name}-{dt_id(dt)}")
               for dt in DTYPES for name, _, _ in _x_views(np.random.default_rng(0), dt)]


@pytest.mark.parametrize("algorithm", ["auto", "im2col", "convgemm"])
@pytest.mark.parametrize("view,dtype", VIEW_PARAMS)
def test_noncontiguous_and_array_like_x(view, dtype, algorithm, rng):
    """x in any memory layout (sliced, strided, negative strides, Fortran order, transposed views)
    or as nested lists gives the same result as a contiguous copy."""
    (layout, x), = [(lay, x) for name, lay, x in _x_views(rng, dtype) if name == view]
    C = np.asarray(x).shape[1 if layout == "NCHW" else 3]
    w = rng.integers(-3, 4, size=(6, C, 3, 3)).astype(dtype)
    bias = rng.integers(-3, 4, size=6).astype(dtype)
    got = hpc_kernels.conv2d(x, w, bias, padding=1, stride=(1, 2), layout=layout, algorithm=algorithm)
    ref = conv2d_ref(np.asarray(x), w, bias, padding=1, stride=(1, 2), layout=layout)
    assert got.dtype == np.dtype(dtype)
    assert np.array_equal(got, ref)


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("algorithm", ["auto", "im2col", "convgemm"])
def test_noncontiguous_w_and_vectors(algorithm, dtype, rng):
    """w and bias/scale/shift given as strided views work like contiguous copies."""
    w_mem = rng.integers(-3, 4, size=(4, 7, 3, 3)).astype(dtype)  # (C, K, R, S) memory
    w = w_mem.transpose(1, 0, 2, 3)  # (K, C, R, S) view, not contiguous
    vec = rng.integers(-2, 3, size=(3, 14)).astype(dtype)
    bias, scale, shift = vec[0, ::2], vec[1, ::-2], vec[2, 1::2]
    x = rng.integers(-3, 4, size=(2, 4, 8, 7)).astype(dtype)
    got = hpc_kernels.conv2d(x, w, bias, scale=scale, shift=shift, padding=1, algorithm=algorithm)
    ref = conv2d_ref(x, w, bias, scale=scale, shift=shift, padding=1)
    assert np.array_equal(got, ref)


def test_inputs_not_modified(rng):
    ops = normal_operands(rng, (2, 4, 7, 7), (6, 4, 3, 3), np.float32, bias=True, scale=True, shift=True)
    before = {k: v.copy() for k, v in ops.items()}
    run_conv(Layer("x", 2, 4, 7, 7, 6, (3, 3), padding=1), ops, "auto", "NCHW", "relu6")
    for k, v in ops.items():
        assert np.array_equal(v, before[k]), k


# --------------------------------------------------------------------------------------------
# Larger layers: blocking of the engine
# --------------------------------------------------------------------------------------------

BIG_LAYERS = [
    Layer("resnet-56x56-c64-k64", 1, 64, 56, 56, 64, (3, 3), padding=1),
    Layer("crs864-kblocking", 2, 96, 12, 12, 40, (3, 3), padding=1),
    Layer("crs1600-5x5-s2", 1, 64, 15, 15, 24, (5, 5), stride=2, padding=2),
    Layer("pixels4096-nblocking", 1, 8, 64, 64, 16, (3, 3), padding=1),
    Layer("dw-c96-56x56", 1, 96, 56, 56, 96, (3, 3), padding=1, groups=96),
    Layer("1x1-c256-k64-28x28", 2, 256, 28, 28, 64, (1, 1)),
]


def _big_cases():
    for layer in BIG_LAYERS:
        algs = applicable_algorithms(layer.x_shape("NCHW"), layer.w_shape, layer.stride, layer.padding,
                                     layer.dilation, layer.groups)
        for alg in algs:
            for dt in DTYPES:
                if dt == np.float64 and alg not in ("auto", "convgemm"):
                    continue  # keep the suite fast: float64 only for the main paths
                yield pytest.param(layer, alg, dt, id=f"{layer.name}-{alg}-{dt_id(dt)}")


@pytest.mark.parametrize("layer,algorithm,dtype", list(_big_cases()))
def test_larger_layers_within_bound(layer, algorithm, dtype, rng):
    """Layers big enough for the cpu engine's K (C*R*S > 512) and N (> 2048 pixels) blocking."""
    layout = "NHWC" if layer.name.startswith(("crs864", "dw-")) else "NCHW"
    ops = normal_operands(rng, layer.x_shape(layout), layer.w_shape, dtype, bias=True, scale=True, shift=True)
    got = run_conv(layer, ops, algorithm, layout, "relu")
    ref, bound = conv2d_ref_and_bound(ops["x"], ops["w"], ops["bias"], scale=ops["scale"], shift=ops["shift"],
                                      activation="relu", **layer.geo(layout))
    assert_within_bound(got, ref, bound, f"{layer} {algorithm} {layout}")


@pytest.mark.parametrize("algorithm", ["auto", "im2col", "convgemm"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_thread_counts(layout, algorithm, rng):
    """1 and 2 threads: both within the bound on random data, both exact on integer data."""
    layer = Layer("threads", 2, 24, 20, 18, 40, (3, 3), padding=1, groups=2)
    rnd = normal_operands(rng, layer.x_shape(layout), layer.w_shape, np.float32, bias=True)
    ints = int_operands(rng, layer.x_shape(layout), layer.w_shape, np.float32, bias=True)
    ref, bound = conv2d_ref_and_bound(rnd["x"], rnd["w"], rnd["bias"], **layer.geo(layout))
    iref = conv2d_ref(ints["x"], ints["w"], ints["bias"], **layer.geo(layout))
    for n in (1, 2):
        with hpc_kernels.num_threads(n):
            assert_within_bound(run_conv(layer, rnd, algorithm, layout, None), ref, bound, f"{n} threads")
            assert np.array_equal(run_conv(layer, ints, algorithm, layout, None), iref), f"{n} threads"


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise_channel_chunks_split_over_threads(stride, dtype, rng):
    """NHWC depthwise layers whose plane fits L2 run channel chunk by chunk (200 channels of a
    28-wide plane: chunks of 64 floats, the last 8 channels masked); 2 and 3 threads split the
    (row, chunk) items mid-row. Exact on integer data with the whole epilogue and a residual."""
    layer = Layer("dw-chunks", 1, 200, 9, 28, 200, (3, 3), stride=stride, padding=1, groups=200)
    ops = int_operands(rng, layer.x_shape("NHWC"), layer.w_shape, dtype, bias=True, scale=True, shift=True)
    ref = conv2d_ref(ops["x"], ops["w"], ops["bias"], scale=ops["scale"], shift=ops["shift"], activation="relu6",
                     **layer.geo("NHWC"))
    res = np.round(rng.standard_normal(ref.shape) * 4).astype(dtype)
    for n in (1, 2, 3):
        with hpc_kernels.num_threads(n):
            got = run_conv(layer, ops, "auto", "NHWC", "relu6")
            assert np.array_equal(got, ref), f"{n} threads: {int((got != ref).sum())} elements differ"
            out = hpc_kernels.conv2d(ops["x"], ops["w"], bias=ops["bias"], scale=ops["scale"], shift=ops["shift"],
                                     stride=stride, padding=1, groups=200, layout="NHWC", residual=res)
            want = conv2d_ref(ops["x"], ops["w"], ops["bias"], scale=ops["scale"], shift=ops["shift"],
                              **layer.geo("NHWC")) + res
            assert np.array_equal(out, want), f"{n} threads, residual"


# --------------------------------------------------------------------------------------------
# Every cpu engine: ISAs, tiny blocks (the MC/KC/NC loops run many times), forced micro-kernels
# --------------------------------------------------------------------------------------------

ENGINE_LAYERS = [l for l in LAYERS if l.name in (
    "3x3-s2-c17-k33", "2x5-s2-asym", "1x1-c17-k19", "1x1-g2-b3", "dw-c33-s2", "g3-s3-d3", "3x3-c19-k17-b3",
    "7x7-s2-p3-stem", "3x5-s21-d12-g3", "dw-multiplier2")]


def _engine_cases():
    for li, layer in enumerate(ENGINE_LAYERS):
        for ai, alg in enumerate(applicable_algorithms(layer.x_shape("NCHW"), layer.w_shape, layer.stride,
                                                       layer.padding, layer.dilation, layer.groups)):
            layout = LAYOUTS[(li + ai) % 2]
            yield pytest.param(layer, alg, layout, id=f"{layer.name}-{alg}-{layout}")


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("layer,algorithm,layout", list(_engine_cases()))
def test_engines_exact_integer_data(cpu_engine, layer, algorithm, layout, dtype, rng):
    """Integer data, full epilogue, on every cpu engine configuration of conftest.cpu_engine."""
    ops = int_operands(rng, layer.x_shape(layout), layer.w_shape, dtype, bias=True, scale=True, shift=True)
    got = run_conv(layer, ops, algorithm, layout, "relu6", backend=cpu_engine)
    ref = conv2d_ref(ops["x"], ops["w"], ops["bias"], scale=ops["scale"], shift=ops["shift"], activation="relu6",
                     **layer.geo(layout))
    assert np.array_equal(got, ref), f"{layer} {algorithm} {layout}: {int((got != ref).sum())} elements differ"


# --------------------------------------------------------------------------------------------
# Backends
# --------------------------------------------------------------------------------------------

REF_LAYERS = [l for l in LAYERS if l.name in (
    "3x3-s2-c17-k33", "3x3-same-g2", "2x5-s2-asym", "dw-c33-s2", "g3-s3-d3", "3x5-s21-d12-g3", "1x1-g2-b3")]


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("layer", REF_LAYERS, ids=lambda l: l.name)
def test_reference_backend_agrees(layer, layout, dtype, rng):
    """The NumPy reference backend (use_backend and backend=) agrees with the oracle within the bound."""
    ops = normal_operands(rng, layer.x_shape(layout), layer.w_shape, dtype, bias=True, scale=True, shift=True)
    ref, bound = conv2d_ref_and_bound(ops["x"], ops["w"], ops["bias"], scale=ops["scale"], shift=ops["shift"],
                                      activation="relu6", **layer.geo(layout))
    with hpc_kernels.use_backend("reference"):
        got = run_conv(layer, ops, "auto", layout, "relu6")
    assert got.dtype == np.dtype(dtype)
    assert_within_bound(got, ref, bound, "use_backend('reference')")
    got = run_conv(layer, ops, "auto", layout, "relu6", backend="reference")
    assert_within_bound(got, ref, bound, "backend='reference'")
    got = run_conv(layer, ops, "auto", layout, "relu6", backend="cpu")
    assert_within_bound(got, ref, bound, "backend='cpu'")
