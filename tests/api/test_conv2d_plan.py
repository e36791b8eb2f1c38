"""hpc_kernels.Conv2d, the reusable convolution plan: same results as the one-shot hpc_kernels.conv2d
(bitwise for the same fixed algorithm, within the bound for "auto"), validation of w and the
options at construction, weights copied at construction, out=, inputs of varying batch and
spatial sizes, NHWC, and concurrent calls from several Python threads."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import hpc_kernels
from _conv_reference import (
    applicable_algorithms,
    conv2d_ref,
    conv2d_ref_and_bound,
    int_operands,
    normal_operands,
    output_shape,
)
from _helpers import DTYPES, assert_within_bound, dt_id



# (name, C, K, (R, S), geometry options)
PLAN_LAYERS = [
    ("3x3-p1", 5, 7, (3, 3), dict(padding=1)),
    ("3x3-s2-g2", 6, 10, (3, 3), dict(stride=2, padding=(1, 0, 2, 1), groups=2)),
    ("5x5-same-d2", 3, 9, (5, 5), dict(padding="same", dilation=2)),
    ("1x1", 17, 19, (1, 1), dict()),
    ("dw-3x3", 12, 12, (3, 3), dict(padding=1, groups=12)),
    ("2x5-s21", 4, 6, (2, 5), dict(stride=(2, 1), padding=(1, 2))),
]


def x_shape(N, C, H, W, layout):
    return (N, C, H, W) if layout == "NCHW" else (N, H, W, C)


def _plan_cases():
    for name, C, K, RS, geo in PLAN_LAYERS:
        for layout in ("NCHW", "NHWC"):
            for alg in applicable_algorithms(x_shape(1, C, 16, 16, layout), (K, C // geo.get("groups", 1), *RS),
                                             geo.get("stride", 1), geo.get("padding", 0), geo.get("dilation", 1),
                                             geo.get("groups", 1), layout):
                yield pytest.param(name, C, K, RS, geo, alg, layout, id=f"{name}-{alg}-{layout}")


# Algorithms whose plan runs exactly the one-shot arithmetic. "gemm" and NCHW "im2col" one-shot
# calls go through the GEMM entry, which may take its unpacked path (one k sweep) where the plan
# runs the blocked driver on prepacked weights (k blocks): equal within the bound, not bitwise.
BITWISE = ("convgemm", "direct")


def check_same(plan_y, one_y, algorithm, ref=None, bound=None, what=""):
    """convgemm/direct: bitwise equal. Others (auto may also pick per call): both within the bound."""
    assert plan_y.shape == one_y.shape and plan_y.dtype == one_y.dtype, what
    if algorithm in BITWISE:
        if not np.array_equal(plan_y, one_y, equal_nan=True):
            d = np.abs(plan_y.astype(np.float64) - one_y)
            raise AssertionError(f"{what}: plan differs from one-shot conv2d (algorithm={algorithm}); "
                                 f"{int((d > 0).sum())} elements, max |diff| {d.max()!r}")
    if ref is not None:
        assert_within_bound(plan_y, ref, bound, f"{what} plan")
        assert_within_bound(one_y, ref, bound, f"{what} one-shot")


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("name,C,K,RS,geo,algorithm,layout", list(_plan_cases()))
def test_plan_equals_one_shot(name, C, K, RS, geo, algorithm, layout, dtype, rng):
    """plan(x) == conv2d(x, ...) with the same options, epilogue included."""
    w_shape = (K, C // geo.get("groups", 1), *RS)
    ops = normal_operands(rng, x_shape(2, C, 11, 9, layout), w_shape, dtype, bias=True, scale=True, shift=True)
    opts = dict(geo, layout=layout, activation="relu", scale=ops["scale"], shift=ops["shift"], algorithm=algorithm)
    plan = hpc_kernels.Conv2d(ops["w"], ops["bias"], **opts)
    got = plan(ops["x"])
    one = hpc_kernels.conv2d(ops["x"], ops["w"], ops["bias"], **opts)
    ref, bound = conv2d_ref_and_bound(ops["x"], ops["w"], ops["bias"], activation="relu", scale=ops["scale"],
                                      shift=ops["shift"], layout=layout, **geo)
    check_same(got, one, algorithm, ref, bound, f"{name} {layout}")


def _fixed_plan_cases():
    for p in _plan_cases():
        if p.values[-2] != "auto":
            yield p


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("name,C,K,RS,geo,algorithm,layout", list(_fixed_plan_cases()))
def test_plan_equals_one_shot_every_engine(cpu_engine, name, C, K, RS, geo, algorithm, layout, dtype, rng):
    """Bitwise plan == one-shot on every cpu engine configuration (ISAs, tiny blocks so the
    reduction is split into many KC blocks and the direct kernel's weights into channel chunks,
    forced micro-kernels)."""
    w_shape = (K, C // geo.get("groups", 1), *RS)
    ops = normal_operands(rng, x_shape(2, C, 11, 9, layout), w_shape, dtype, bias=True)
    opts = dict(geo, algorithm=algorithm, backend=cpu_engine, layout=layout)
    got = hpc_kernels.Conv2d(ops["w"], ops["bias"], **opts)(ops["x"])
    one = hpc_kernels.conv2d(ops["x"], ops["w"], ops["bias"], **opts)
    ref, bound = conv2d_ref_and_bound(ops["x"], ops["w"], ops["bias"], layout=layout, **geo)
    check_same(got, one, algorithm, ref, bound, what=f"{name} {layout}")


def _long_reduction_cases():
    """Layers whose reduction C*R*S exceeds the engine's default KC of the dtype (so the K loop
    of the GEMM runs more than once), with few (<= 64) and many output channels."""
    from hpc_kernels import _cpu
    info = _cpu.info()
    for dt in DTYPES:
        kc = info[np.dtype(dt).name]["kc"]
        for RS, C, K in [((1, 1), kc + 37, 20), ((1, 1), kc + 37, 96), ((3, 3), kc // 9 + 13, 24),
                         ((3, 3), 4 * kc // 9 + 13, 80)]:  # the last one: the direct kernel's channel chunks
            w_shape = (K, C, *RS)
            for layout in ("NCHW", "NHWC"):
                for alg in applicable_algorithms(x_shape(1, C, 6, 5, layout), w_shape, layout=layout):
                    yield pytest.param(dt, C, K, RS, alg, layout,
                                       id=f"{dt_id(dt)}-{RS[0]}x{RS[1]}-C{C}-K{K}-{alg}-{layout}")


@pytest.mark.parametrize("dtype,C,K,RS,algorithm,layout", list(_long_reduction_cases()))
def test_plan_equals_one_shot_long_reduction(dtype, C, K, RS, algorithm, layout, rng):
    """Default engine, C*R*S > KC: the plan's pre-packed weights must give the very same sums as
    the one-shot call (bitwise for a fixed algorithm, within the bound for auto)."""
    ops = normal_operands(rng, x_shape(1, C, 6, 5, layout), (K, C, *RS), dtype, bias=True)
    pad = 0 if RS == (1, 1) else 1
    plan = hpc_kernels.Conv2d(ops["w"], ops["bias"], padding=pad, algorithm=algorithm, layout=layout)
    got = plan(ops["x"])
    one = hpc_kernels.conv2d(ops["x"], ops["w"], ops["bias"], padding=pad, algorithm=algorithm, layout=layout)
    ref, bound = conv2d_ref_and_bound(ops["x"], ops["w"], ops["bias"], padding=pad, layout=layout)
    check_same(got, one, algorithm, ref, bound, f"C={C} K={K} {RS} {layout}")


@pytest.mark.parametrize("algorithm", ["auto", "im2col", "convgemm"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_plan_varying_batch_and_spatial_sizes(algorithm, layout, rng):
    """One plan serves inputs of any batch size (0 included) and any spatial size."""
    ops = int_operands(rng, (1, 1, 1, 1), (8, 3, 3, 3), np.float32, bias=True)
    plan = hpc_kernels.Conv2d(ops["w"], ops["bias"], stride=(1, 2), padding=1, layout=layout, activation="relu6",
                          algorithm=algorithm)
    for N, H, W in [(1, 9, 8), (3, 12, 10), (0, 9, 8), (2, 5, 5), (1, 1, 1), (1, 30, 41), (4, 9, 8)]:
        x = rng.integers(-3, 4, size=x_shape(N, 3, H, W, layout)).astype(np.float32)
        got = plan(x)
        shape = output_shape(x.shape, ops["w"].shape, (1, 2), 1, 1, layout)
        assert got.shape == shape, (N, H, W)
        one = hpc_kernels.conv2d(x, ops["w"], ops["bias"], stride=(1, 2), padding=1, layout=layout, activation="relu6",
                             algorithm=algorithm)
        ref = conv2d_ref(x, ops["w"], ops["bias"], stride=(1, 2), padding=1, layout=layout, activation="relu6")
        assert np.array_equal(got, ref) and np.array_equal(one, ref), (N, H, W)


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
@pytest.mark.parametrize("algorithm,groups", [("auto", 2), ("im2col", 2), ("convgemm", 2), ("direct", 2), ("direct", 8)])
def test_plan_with_out(algorithm, groups, dtype, rng):
    """plan(x, out=out): written into out (NaN-filled before: fully overwritten), out returned;
    a channel slice of a bigger NCHW array works and nothing else of it is written."""
    C = K = 8
    ops = int_operands(rng, (3, C, 9, 7), (K, C // groups, 3, 3), dtype, bias=True, scale=True, shift=True)
    plan = hpc_kernels.Conv2d(ops["w"], ops["bias"], padding=1, groups=groups, scale=ops["scale"], shift=ops["shift"],
                          algorithm=algorithm)
    ref = conv2d_ref(ops["x"], ops["w"], ops["bias"], padding=1, groups=groups, scale=ops["scale"], shift=ops["shift"])
    out = np.full((3, K, 9, 7), np.nan, dtype)
    assert plan(ops["x"], out=out) is out
    assert np.array_equal(out, ref)
    big = np.full((3, 20, 9, 7), -9.0, dtype)
    view = big[:, 4:12]
    assert plan(ops["x"], out=view) is view
    assert np.array_equal(big[:, 4:12], ref)
    assert np.all(big[:, :4] == -9.0) and np.all(big[:, 12:] == -9.0)


@pytest.mark.parametrize("dtype", DTYPES, ids=dt_id)
def test_plan_with_out_nhwc_direct(dtype, rng):
    """The NHWC direct kernel writes into a channel slice of a bigger NHWC array, nothing else."""
    C, K = 5, 9
    ops = int_operands(rng, (2, 8, 7, C), (K, C, 3, 3), dtype, bias=True)
    plan = hpc_kernels.Conv2d(ops["w"], ops["bias"], padding=1, layout="NHWC", activation="relu", algorithm="direct")
    ref = conv2d_ref(ops["x"], ops["w"], ops["bias"], padding=1, layout="NHWC", activation="relu")
    big = np.full((2, 8, 7, 16), -9.0, dtype)
    view = big[..., 3:3 + K]
    assert plan(ops["x"], out=view) is view
    assert np.array_equal(big[..., 3:3 + K], ref)
    assert np.all(big[..., :3] == -9.0) and np.all(big[..., 3 + K:] == -9.0)


def test_plan_out_errors(rng):
    ops = int_operands(rng, (2, 4, 8, 8), (6, 4, 3, 3), np.float32)
    plan = hpc_kernels.Conv2d(ops["w"])
    with pytest.raises(ValueError, match=r"\bout\b"):
        plan(ops["x"], out=np.zeros((2, 6, 6, 5), np.float32))
    with pytest.raises(TypeError, match=r"\bout\b"):
        plan(ops["x"], out=np.zeros((2, 6, 6, 6), np.float64))
    with pytest.raises(ValueError, match=r"\bout\b"):
        plan(ops["x"], out=np.zeros((2, 6, 12, 6), np.float32)[:, :, ::2])  # H and W strides do not merge


@pytest.mark.parametrize("algorithm", ["auto", "im2col", "convgemm", "gemm", "direct"])
def test_plan_copies_weights_at_construction(algorithm, rng):
    """Writing into w (and bias, scale, shift) after building the plan does not change its results."""
    if algorithm == "direct":
        C, K, RS, groups = 6, 6, (3, 3), 6
    elif algorithm == "gemm":
        C, K, RS, groups = 6, 10, (1, 1), 1
    else:
        C, K, RS, groups = 6, 10, (3, 3), 2
    pad = 0 if algorithm == "gemm" else 1
    ops = int_operands(rng, (2, C, 8, 9), (K, C // groups, *RS), np.float64, bias=True, scale=True, shift=True)
    saved = {k: v.copy() for k, v in ops.items()}
    plan = hpc_kernels.Conv2d(ops["w"], ops["bias"], padding=pad, groups=groups, scale=ops["scale"], shift=ops["shift"],
                          algorithm=algorithm)
    before = plan(ops["x"])
    ops["w"][...] = 100.0
    ops["w"][0] = np.nan
    after_w = plan(ops["x"])
    ref = conv2d_ref(saved["x"], saved["w"], saved["bias"], padding=pad, groups=groups, scale=saved["scale"],
                     shift=saved["shift"])
    assert np.array_equal(before, ref)
    assert np.array_equal(after_w, ref), "the plan reads w at call time instead of a copy"


def test_plan_copies_epilogue_vectors(rng):
    """bias, scale and shift are copied too (the plan holds no references to caller arrays)."""
    ops = int_operands(rng, (2, 4, 8, 9), (6, 4, 3, 3), np.float32, bias=True, scale=True, shift=True)
    saved = {k: v.copy() for k, v in ops.items()}
    plan = hpc_kernels.Conv2d(ops["w"], ops["bias"], padding=1, scale=ops["scale"], shift=ops["shift"])
    for k in ("bias", "scale", "shift"):
        ops[k][...] = 50.0
    ref = conv2d_ref(saved["x"], saved["w"], saved["bias"], padding=1, scale=saved["scale"], shift=saved["shift"])
    assert np.array_equal(plan(saved["x"]), ref)


@pytest.mark.parametrize("algorithm", ["auto", "im2col", "convgemm"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_plan_concurrent_calls_from_python_threads(algorithm, layout, rng):
    """4 Python threads x 5 calls each, all different inputs (and sizes), on one shared plan:
    every result exact (integer data) and equal to the sequential one-shot result."""
    C, K = 12, 20
    ops = int_operands(rng, (1, C, 1, 1), (K, C // 2, 3, 3), np.float32, bias=True, scale=True, shift=True)
    opts = dict(padding=1, groups=2, layout=layout, scale=ops["scale"], shift=ops["shift"], activation="relu",
                algorithm=algorithm)
    plan = hpc_kernels.Conv2d(ops["w"], ops["bias"], **opts)
    inputs = [[rng.integers(-3, 4, size=x_shape(1 + (t + i) % 3, C, 10 + t, 12 + 2 * i, layout)).astype(np.float32)
               for i in range(5)] for t in range(4)]
    results = [[None] * 5 for _ in range(4)]
    errors = []
    barrier = threading.Barrier(4)

    def work(t):
        try:
            barrier.wait()
            for i, x in enumerate(inputs[t]):
                results[t][i] = plan(x)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not errors, errors
    for t in range(4):
        for i, x in enumerate(inputs[t]):
            ref = conv2d_ref(x, ops["w"], ops["bias"], padding=1, groups=2, layout=layout, scale=ops["scale"],
                             shift=ops["shift"], activation="relu")
            assert results[t][i] is not None and np.array_equal(results[t][i], ref), f"thread {t} call {i}"
            one = hpc_kernels.conv2d(x, ops["w"], ops["bias"], **opts)
            assert np.array_equal(results[t][i], one), f"thread {t} call {i} vs one-shot"


def test_plan_concurrent_random_data_within_bound(rng):
    """Concurrent calls on random float data: each within the bound of its own reference."""
    ops = normal_operands(rng, (1, 16, 1, 1), (24, 16, 3, 3), np.float32, bias=True)
    plan = hpc_kernels.Conv2d(ops["w"], ops["bias"], padding=1, algorithm="convgemm")
    inputs = [rng.standard_normal((2, 16, 20 + t, 18)).astype(np.float32) for t in range(8)]
    results = [None] * 8
    errors = []

    def work(t):
        try:
            for _ in range(3):
                results[t] = plan(inputs[t])
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not errors, errors
    for t in range(8):
        ref, bound = conv2d_ref_and_bound(inputs[t], ops["w"], ops["bias"], padding=1)
        assert_within_bound(results[t], ref, bound, f"thread {t}")
        assert np.array_equal(results[t], hpc_kernels.conv2d(inputs[t], ops["w"], ops["bias"], padding=1,
                                                         algorithm="convgemm"))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_plan_reference_backend(layout, rng):
    ops = normal_operands(rng, x_shape(2, 6, 9, 8, layout), (4, 3, 3, 3), np.float64, bias=True)
    plan = hpc_kernels.Conv2d(ops["w"], ops["bias"], padding="same", groups=2, layout=layout, backend="reference")
    ref, bound = conv2d_ref_and_bound(ops["x"], ops["w"], ops["bias"], padding="same", groups=2, layout=layout)
    assert_within_bound(plan(ops["x"]), ref, bound, "reference-backend plan")


def test_plan_noncontiguous_inputs(rng):
    """The plan takes any strides for x and a non-contiguous w at construction."""
    w = rng.integers(-3, 4, size=(4, 6, 3, 3)).astype(np.float32).transpose(1, 0, 2, 3)  # (6, 4, 3, 3) view
    plan = hpc_kernels.Conv2d(w, padding=1, algorithm="convgemm")
    base = rng.integers(-3, 4, size=(2, 8, 20, 20)).astype(np.float32)
    for x in (base[:, :4, ::2, ::3], base[:, 4:, ::-1], np.asfortranarray(base[:, :4])):
        assert np.array_equal(plan(x), conv2d_ref(x, w, padding=1))


# --------------------------------------------------------------------------------------------
# Errors: at construction where w and the options decide, at call time where x does
# --------------------------------------------------------------------------------------------

def _w(k=6, c=4, r=3, s=3, dtype=np.float32):
    return np.ones((k, c, r, s), dtype)


CONSTRUCTION_ERRORS = {
    "w-3d": (lambda: ((np.ones((6, 4, 3), np.float32),), {}), ValueError, r"\bw\b"),
    "w-5d": (lambda: ((np.ones((6, 4, 3, 3, 1), np.float32),), {}), ValueError, r"\bw\b"),
    "w-int": (lambda: ((_w().astype(np.int32),), {}), TypeError, "int32"),
    "w-float16": (lambda: ((_w().astype(np.float16),), {}), TypeError, "float16"),
    "bias-dtype": (lambda: ((_w(), np.zeros(6, np.float64)), {}), TypeError, "bias"),
    "scale-dtype": (lambda: ((_w(),), dict(scale=np.ones(6, np.float64))), TypeError, "scale"),
    "bias-length": (lambda: ((_w(), np.zeros(5, np.float32)), {}), ValueError, "bias"),
    "shift-length": (lambda: ((_w(),), dict(shift=np.zeros(7, np.float32))), ValueError, "shift"),
    "groups-0": (lambda: ((_w(),), dict(groups=0)), ValueError, "groups"),
    "groups-not-dividing-K": (lambda: ((_w(k=6, c=2),), dict(groups=4)), ValueError, "groups"),
    "stride-0": (lambda: ((_w(),), dict(stride=0)), ValueError, "stride"),
    "dilation-0": (lambda: ((_w(),), dict(dilation=(1, 0))), ValueError, "dilation"),
    "padding-negative": (lambda: ((_w(),), dict(padding=(-1, 0))), ValueError, "padding"),
    "padding-string": (lambda: ((_w(),), dict(padding="full")), ValueError, "padding"),
    "padding-same-stride2": (lambda: ((_w(),), dict(padding="same", stride=2)), ValueError, r"same|stride|padding"),
    "layout": (lambda: ((_w(),), dict(layout="CHWN")), ValueError, "layout"),
    "activation": (lambda: ((_w(),), dict(activation="tanh")), ValueError, "activation"),
    "algorithm": (lambda: ((_w(),), dict(algorithm="fft")), ValueError, "algorithm"),
    "algorithm-gemm-3x3": (lambda: ((_w(),), dict(algorithm="gemm")), ValueError, r"gemm|algorithm"),
    "algorithm-gemm-1x1-stride2": (lambda: ((_w(r=1, s=1),), dict(algorithm="gemm", stride=2)), ValueError, r"gemm|algorithm"),
    "algorithm-gemm-1x1-pad": (lambda: ((_w(r=1, s=1),), dict(algorithm="gemm", padding=1)), ValueError, r"gemm|algorithm"),
}


@pytest.mark.parametrize("case", list(CONSTRUCTION_ERRORS))
def test_plan_errors_at_construction(case):
    """Errors decidable from w and the options are raised by Conv2d(...) itself, not later."""
    build, exc, match = CONSTRUCTION_ERRORS[case]
    args, kwargs = build()
    with pytest.raises(exc, match=match):
        hpc_kernels.Conv2d(*args, **kwargs)


CALL_ERRORS = {
    "x-channels": (lambda: np.ones((2, 5, 8, 8), np.float32), ValueError, r"channel|\bx\b|\bw\b|\bC\b"),
    "x-3d": (lambda: np.ones((4, 8, 8), np.float32), ValueError, r"\bx\b"),
    "x-dtype": (lambda: np.ones((2, 4, 8, 8), np.float64), TypeError, r"float32|float64"),
    "x-int": (lambda: np.ones((2, 4, 8, 8), np.int32), TypeError, "int32"),
    "x-too-small": (lambda: np.ones((2, 4, 2, 8), np.float32), ValueError, r"kernel|input|output|size"),
}


@pytest.mark.parametrize("case", list(CALL_ERRORS))
def test_plan_errors_at_call(case):
    build, exc, match = CALL_ERRORS[case]
    plan = hpc_kernels.Conv2d(_w())
    with pytest.raises(exc, match=match):
        plan(build())
    assert plan(np.ones((2, 4, 8, 8), np.float32)).shape == (2, 6, 6, 6)  # still usable


def test_plan_weights_are_its_own_read_only_copy():
    """Conv2d.weights: the weights the plan was built from (one copy, held by the backend's packed
    object on cpu), read-only, unchanged by later writes to the caller's array; pickling uses it."""
    import pickle

    rng = np.random.default_rng(3)
    w = rng.standard_normal((6, 4, 3, 3)).astype(np.float32)
    x = rng.standard_normal((1, 4, 7, 7)).astype(np.float32)
    plan = hpc_kernels.Conv2d(w, padding=1)
    before = plan(x)
    w0 = w.copy()
    w[...] = 0
    assert np.array_equal(plan.weights, w0) and not plan.weights.flags.writeable
    with pytest.raises(ValueError):
        plan.weights[0, 0, 0, 0] = 1
    again = pickle.loads(pickle.dumps(plan))
    np.testing.assert_array_equal(again(x), before)
