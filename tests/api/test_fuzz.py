"""Property-based fuzzing (hypothesis) of gemm, matmul, conv2d, Conv2d plans and im2col on every
available backend: each call either raises a clear TypeError/ValueError/OverflowError/MemoryError,
the same class on every backend, or returns the float64 reference within the netlib-style bound;
it never writes outside its output, never modifies an input, and writes nothing when it fails.

Profiles (tests/conftest.py): "default" here (30 examples per test), "ci" and "long" through
.ci/fuzz.sh, which runs each test in its own process so that a crash is reported with its example.
The machinery and the strategies are in tests/api/_fuzz_strategies.py.
"""
from __future__ import annotations

import ctypes
import decimal
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("hypothesis")  # the test extra's; tests/conftest.py registers its profiles

from hypothesis import given  # noqa: E402
from numpy.lib.stride_tricks import as_strided  # noqa: E402

from _fuzz_strategies import (  # noqa: E402
    BACKENDS, LEFT_OUT, A, ConvCase, Expect, FuzzFailure, GemmCase, Im2colCase, MatmulCase, Outcome,
    array_like_cases, build, check_memory, check_outcomes, conv_cases, conv_taps_ref, device_gemm_cases,
    element_bytes, gemm_cases, im2col_cases, im2col_taps_ref, matmul_cases, output_check, replay, run_all,
    run_conv, run_gemm, run_gemm_device, run_im2col, run_matmul, self_overlapping,
)
from _conv_reference import conv2d_ref_and_bound, im2col_ref  # noqa: E402


# One case per class of defect the fuzzer is meant to find, always run (hypothesis stops at a
# failing @example before it generates any, so these are a test of their own; they pass once the
# library handles them). Names starting "device-" run on pyopencl arrays.
SEED_CASES = {
    # gemm(a, b, c, beta=1, out=c) must check c as an output
    "gemm-out-is-c-float16": GemmCase(A((3, 4)), A((4, 5)), c=A((3, 5), "float16"), out="c", beta=1.0),
    "gemm-out-is-c-float32": GemmCase(A((3, 4)), A((4, 5)), c=A((3, 5), "float32"), out="c", beta=1.0),
    "gemm-out-is-c-zero-stride": GemmCase(A((3, 4)), A((4, 5)), c=A((3, 5), strides=(0, 1)), out="c", beta=1.0),
    "gemm-out-is-c-wrong-shape": GemmCase(A((4, 4), "float32"), A((4, 65), "float32"), c="a", out="c", beta=2.0),
    # strided outputs whose elements do not overlap are valid
    "gemm-strided-out": GemmCase(A((13, 5)), A((5, 65)), out=A((13, 65), step=(1, 2), pad=-1)),  # np.zeros((13, 129))[:, ::2]
    "gemm-interleaved-c": GemmCase(A((13, 1)), A((1, 13)), c=A((13, 13), strides=(13, 2)), beta=0.5),
    # alpha and beta are real numbers; what is not raises the same TypeError/OverflowError everywhere
    "gemm-alpha-bool": GemmCase(A((3, 3)), A((3, 3)), alpha=True),
    "gemm-alpha-huge-int": GemmCase(A((3, 3)), A((3, 3)), alpha=10**400),
    "gemm-alpha-none": GemmCase(A((2, 2)), A((2, 2)), alpha=None),
    "gemm-alpha-decimal": GemmCase(A((2, 2)), A((2, 2)), alpha=decimal.Decimal("1.5")),
    "gemm-alpha-0d-array": GemmCase(A((2, 2)), A((2, 2)), alpha=np.array(2.0)),
    "gemm-beta-complex": GemmCase(A((2, 2)), A((2, 2)), c=A((2, 2)), beta=np.complex64(1)),
    "gemm-check-order": GemmCase(A((2, 2)), A((2, 2)), c=A((2, 2), kind="list"), out=A((2, 2), strides=(0, 1)), beta=1.0),
    # array-likes: an __array__ that raises reaches the caller
    "gemm-array-raises": GemmCase(A((3, 3)), A((3, 3), kind="raising")),
    # BLAS: alpha == 0 does not read a, beta == 0 does not read c
    "gemm-alpha-0-nan-a": GemmCase(A((4, 4), values="nan"), A((4, 4)), c=A((4, 4)), alpha=0.0, beta=1.0),
    "gemm-beta-0-nan-c": GemmCase(A((4, 4)), A((4, 4)), c=A((4, 4), values="nan"), beta=0.0),
    # a partial sum past float32's range (a value read from the arena's bytes, -2.44e38, times 2)
    # overflows before alpha = -0.25 brings the exact result back in range: an infinity there is
    # IEEE arithmetic, not a wrong answer (check_values' reach); any finite result is still checked
    "gemm-partial-sum-overflows": GemmCase(A((97, 2), "float32", perm=(1, 0), skew=1), A((2, 1), "float32", values="ints"),
                                           c=A((97, 1), "float32"), alpha=-0.25),
    # an empty array has no address and a one-element axis never applies its stride: neither
    # overlaps nor misaligns anything (as NumPy's flags and the Python backends' checks say)
    "gemm-1x1-out-odd-strides": GemmCase(A((1, 1)), A((1, 1)), c=A((1, 1)), out=A((1, 1), skew=1)),
    "matmul-empty-a-inside-out": MatmulCase(A((1, 0)), A((0, 2)), out=A((1, 2), near=("a", -1))),
    # C == 0 (an empty reduction): the epilogue of a zero sum stored into the output on every backend
    "conv2d-no-input-channels": ConvCase(A((1, 0, 1, 1)), A((1, 0, 1, 1))),
    # one output column: the residual's W stride (16 elements, from the permutation) is never
    # applied; the pixels are H's stride apart (read at j * 16 before: a wrong answer on cpu, opencl)
    "conv2d-one-column-residual": ConvCase(A((1, 12, 4, 2), "float32", step=(3, 1, 1, -2), seed=1), A((4, 2, 1, 4), "float32"),
                                           shift=A((4,), "float32", seed=1), stride=3, padding="valid", layout="NHWC",
                                           algorithm="im2col", residual=A((1, 4, 1, 4), "float32", perm=(2, 1, 0, 3), seed=37)),
    "device-zero-stride-out": GemmCase(A((3, 4)), A((4, 5)), out=A((3, 5), strides=(0, 1))),
    "device-misaligned": GemmCase(A((3, 4), misalign=4), A((4, 5))),
    "matmul-zero-stride-out": MatmulCase(A((2, 3, 4)), A((4,)), out=A((2, 3), strides=(0, 1))),
    "matmul-vector-vector": MatmulCase(A((3,)), A((3,))),
    "matmul-skewed-unit-axis": MatmulCase(A((1, 3), skew=1), A((3, 2))),  # the odd stride is never used
    # two bad arguments: every backend reports out's kind first, then the operands, then out's shape
    # (found by the CI fuzz run of 2026-12-05: the Python backends checked out's shape first)
    "matmul-object-vector-bad-out-shape": MatmulCase(A((1, 2)), A((1,), "object"), out=A((1, 1))),
    # a plan owns copies of its weights: out over the caller's w is a valid call (found by seed 78)
    "plan-out-over-callers-w": ConvCase(A((1, 1, 1, 1)), A((1, 1, 1, 1)), out=A((1, 1, 1, 1), near=("w", 0)), plan=True),
    "plan-out-over-callers-w-mutated": ConvCase(A((1, 2, 3, 3)), A((2, 2, 1, 1)), out=A((1, 2, 3, 3), near=("w", 0)), plan=True, mutate=True),
    "matmul-list-out-vector-b": MatmulCase(A((1, 2)), A((1,)), out=A((1, 1), kind="list")),
    "matmul-list-out-bad-shapes": MatmulCase(A((1, 2)), A((1, 1)), out=A((1, 1), kind="list")),
    "matmul-list-a-mixed-dtypes-bad-out": MatmulCase(A((0, 1, 1), kind="list"), A((1, 1), "float32"), out=A((0, 1, 1), "float32")),
    # integer options: valid up to int64 (a 1-pixel output), beyond it one clear error everywhere
    # This stop's new paths, through every backend's output checks and the arena's write check:
    # NCHW planes above 64x64 run "direct" on NHWC copies (csrc/conv/nchw_reorder.cpp), also into
    # a channel slice of a larger out and as a plan; strided depthwise NCHW reads stride-phase planes.
    "conv2d-nchw-large-plane-direct": ConvCase(A((1, 16, 66, 70)), A((8, 16, 3, 3)), padding=1, algorithm="direct",
                                               activation="relu"),
    "conv2d-nchw-large-plane-auto-plan": ConvCase(A((2, 17, 65, 67)), A((6, 17, 3, 5)), stride=2, padding=(1, 2),
                                                  plan=True),
    "conv2d-nchw-large-plane-strided-out": ConvCase(A((1, 16, 66, 66)), A((4, 16, 3, 3)), padding=1, algorithm="direct",
                                                    out=A((1, 4, 66, 66), strides=(66 * 66 * 8 * 8, 66 * 66 * 8, 66 * 8, 8))),
    "conv2d-depthwise-nchw-stride3-dilated": ConvCase(A((1, 6, 17, 15)), A((6, 1, 5, 5)), stride=3, padding=2, dilation=2,
                                                      groups=6, algorithm="direct"),
    "conv2d-depthwise-nchw-stride2-asym-pad": ConvCase(A((2, 5, 12, 13)), A((5, 1, 3, 3)), stride=2, padding=(2, 1, 0, 3),
                                                       groups=5),
    "conv2d-stride-2**63": ConvCase(A((1, 4, 5, 5)), A((3, 4, 3, 3)), stride=2**63),
    "conv2d-one-output-column": ConvCase(A((1, 1, 2, 1)), A((2, 1, 1, 1))),  # opencl stepped Wo == 1 pixels by 0
    "conv2d-stride-2**31": ConvCase(A((1, 1, 3, 3), "float32"), A((1, 1, 1, 1), "float32"), stride=2**31),
    "conv2d-padding-2**40": ConvCase(A((1, 1, 1, 1), "float32"), A((1, 1, 1, 1), "float32"), padding=2**40),
    "conv2d-direct-dilation-2**62": ConvCase(A((1, 1, 1, 1)), A((1, 1, 1, 3)), padding="same", dilation=2**62,
                                             algorithm="direct"),  # one output pixel: the middle tap
    "conv2d-direct-dilation-2**40": ConvCase(A((1, 1, 1, 1)), A((1, 1, 1, 3)), padding="same", dilation=2**40,
                                             algorithm="direct"),
    "conv2d-huge-padding-tiny-output": ConvCase(A((1, 2, 5, 5)), A((1, 2, 2, 2)), stride=2**62,
                                                padding=(2**62, 0, 1, 0)),
    "im2col-padding-2**62": Im2colCase(A((1, 1, 2, 2)), 1, padding=2**62),
    "im2col-misaligned": Im2colCase(A((1, 1, 4, 4), misalign=1), 2),  # the error names im2col
    "im2col-kernel-2**32": Im2colCase(A((1, 1, 1, 1)), 2**32, padding="same"),  # C*R*S = 2**64: refused, not (1, 0, 1)
    "conv2d-misaligned-w-bias": ConvCase(A((1, 4, 5, 5)), A((3, 4, 3, 3), misalign=1), A((3,), misalign=1)),
    "conv2d-zero-batch-stride": ConvCase(A((2, 4, 6, 6), strides=(0, 36, 6, 1)), A((5, 4, 3, 3)), padding=1),
    "conv2d-zero-batch-stride-nhwc": ConvCase(A((2, 6, 6, 4), strides=(0, 24, 4, 1)), A((5, 4, 3, 3)), layout="NHWC",
                                              padding=1),
    "conv2d-zero-batch-stride-nhwc-convgemm": ConvCase(A((4, 3, 10, 8), strides=(0, 80, 8, 1), seed=144),
                                                       A((4, 8, 3, 3), seed=145), layout="NHWC", algorithm="convgemm"),
    "conv2d-zero-stride-out": ConvCase(A((1, 2, 4, 4)), A((3, 2, 1, 1)), out=A((1, 3, 4, 4), strides=(16, 0, 4, 1))),
    "conv2d-gemm-padded-out": ConvCase(A((1, 2, 4, 4)), A((3, 2, 1, 1)), out=A((1, 3, 4, 4), strides=(48, 16, 4, 1)),
                                       algorithm="gemm"),
    "conv2d-no-input-channels": ConvCase(A((1, 0, 4, 4), "float32"), A((2, 0, 1, 1), "float32")),
    "conv2d-no-input-channels-bias": ConvCase(A((1, 0, 4, 4)), A((2, 0, 3, 3)), A((2,)), padding=1),
    "plan-mutated-weights": ConvCase(A((1, 4, 5, 5)), A((3, 4, 3, 3)), A((3,)), padding=1, plan=True, mutate=True),
    "plan-no-input-channels": ConvCase(A((1, 0, 4, 4)), A((2, 0, 3, 3)), A((2,)), padding=1, plan=True),
    # residual (y = act(... + residual)): in place (a reduction long enough for partial sums in y),
    # strided views, NHWC, wrong dtype / shape (one exception class everywhere), overlap with out
    "conv2d-residual": ConvCase(A((1, 3, 6, 5)), A((4, 3, 3, 3)), A((4,)), padding=1, activation="relu",
                                residual=A((1, 4, 6, 5))),
    "conv2d-residual-is-out-long-k": ConvCase(A((1, 80, 5, 4)), A((6, 80, 3, 3)), padding=1, activation="relu6",
                                              out=A((1, 6, 5, 4)), residual="out"),
    "conv2d-residual-is-out-direct-nhwc": ConvCase(A((2, 4, 5, 40)), A((7, 40, 3, 3)), padding=1, layout="NHWC",
                                                   algorithm="direct", out=A((2, 4, 5, 7)), residual="out"),
    "conv2d-residual-strided-nhwc": ConvCase(A((1, 5, 6, 3)), A((8, 3, 3, 3)), layout="NHWC", padding=1,
                                             residual=A((1, 5, 6, 8), step=(1, -1, 2, 3))),
    "conv2d-residual-other-layout-depthwise": ConvCase(A((1, 6, 7, 7)), A((6, 1, 3, 3)), groups=6, padding=1,
                                                       algorithm="direct", residual=A((1, 6, 7, 7), perm=(0, 2, 3, 1))),
    "conv2d-residual-large-plane-direct": ConvCase(A((1, 4, 66, 66)), A((5, 4, 3, 3)), padding=1, algorithm="direct",
                                                   residual=A((1, 5, 66, 66), step=(1, 2, 1, 1))),
    "conv2d-residual-wrong-dtype": ConvCase(A((1, 3, 6, 5)), A((4, 3, 3, 3)), residual=A((1, 4, 4, 3), "float32")),
    "conv2d-residual-wrong-shape": ConvCase(A((1, 3, 6, 5)), A((4, 3, 3, 3)), residual=A((1, 4, 4, 4))),
    "conv2d-residual-overlaps-out": ConvCase(A((1, 3, 6, 5)), A((4, 3, 3, 3)), out=A((1, 4, 4, 3)),
                                             residual=A((1, 4, 4, 3), near=("out", 1))),
    "conv2d-residual-misaligned": ConvCase(A((1, 3, 6, 5)), A((4, 3, 3, 3)), residual=A((1, 4, 4, 3), misalign=1)),
    "plan-residual-is-out": ConvCase(A((1, 3, 6, 5)), A((4, 3, 3, 3)), A((4,)), padding=1, out=A((1, 4, 6, 5)),
                                     residual="out", plan=True),
    # Winograd F(2x2, 3x3) (csrc/conv/winograd.cpp): its channel-vector transforms (>= 16 channels,
    # unit channel stride), odd outputs (half-empty tiles), a channel slice of a larger out, the
    # residual in place, NCHW through the NHWC copies, and a layer it does not compute.
    "conv2d-winograd-nhwc-vector-odd": ConvCase(A((2, 7, 9, 33)), A((20, 33, 3, 3)), A((20,)), padding=1, layout="NHWC",
                                                algorithm="winograd", activation="relu6",
                                                out=A((2, 7, 9, 20), strides=(7 * 9 * 40 * 8, 9 * 40 * 8, 40 * 8, 8))),
    "conv2d-winograd-residual-is-out": ConvCase(A((1, 6, 5, 17)), A((18, 17, 3, 3)), padding=(0, 2, 1, 0), layout="NHWC",
                                                algorithm="winograd", out=A((1, 6, 5, 18)), residual="out"),
    "conv2d-winograd-nchw-plan": ConvCase(A((1, 16, 9, 10)), A((17, 16, 3, 3)), padding=1, algorithm="winograd",
                                          plan=True),
    "conv2d-winograd-stride-2": ConvCase(A((1, 4, 6, 6)), A((3, 4, 3, 3)), stride=2, algorithm="winograd"),
    "im2col-zero-batch-stride": Im2colCase(A((2, 2, 5, 5), strides=(0, 25, 5, 1)), 3, padding=1),
}


@pytest.mark.parametrize("name", list(SEED_CASES))
def test_fuzz_seed_cases(name):
    if name.startswith("device-"):
        if "opencl" not in BACKENDS:
            pytest.skip(f"opencl: {LEFT_OUT.get('opencl')}")
        run_gemm_device(SEED_CASES[name])
    else:
        replay(SEED_CASES[name])


@given(case=gemm_cases())
def test_fuzz_gemm(case):
    run_gemm(case)


@pytest.mark.skipif("opencl" not in BACKENDS, reason=f"opencl: {LEFT_OUT.get('opencl')}")
@given(case=device_gemm_cases())
def test_fuzz_gemm_opencl_device(case):
    run_gemm_device(case)


@given(case=matmul_cases())
def test_fuzz_matmul(case):
    run_matmul(case)


@given(case=conv_cases())
def test_fuzz_conv2d(case):
    run_conv(case)


@given(case=conv_cases(plan=True))
def test_fuzz_conv2d_plan(case):
    run_conv(case)


@given(case=im2col_cases())
def test_fuzz_im2col(case):
    run_im2col(case)


@given(case=array_like_cases())
def test_fuzz_array_likes(case):
    replay(case)


# ------------------------------------------------------------------------------------------------
# The fuzzer's own machinery
# ------------------------------------------------------------------------------------------------

def test_backends_fuzzed():
    """Every available backend takes part; one that is installed but cannot run a trivial call
    (a broken OpenCL compiler) is left out, said here as a skip."""
    assert "reference" in BACKENDS and "cpu" in BACKENDS
    broken = {k: v for k, v in LEFT_OUT.items() if "unusable" in v}
    if broken:
        pytest.skip("; ".join(f"{k}: {v}" for k, v in broken.items()))


def test_overlap_rule():
    """Overlap is two elements sharing a byte: a strided slice is valid, broadcasts are not."""
    assert not self_overlapping(np.zeros((13, 129))[:, ::2])
    assert not self_overlapping(np.zeros((4, 5))[::-1, ::-2])
    assert not self_overlapping(np.zeros((3, 0)))
    row = np.zeros(4)
    assert self_overlapping(as_strided(row, (3, 4), (0, 8)))
    assert self_overlapping(as_strided(row, (2, 2), (8, 8)))  # (0, 1) and (1, 0) are one element
    assert not self_overlapping(as_strided(np.zeros(1), (1, 1), (0, 0)))  # one element
    e = Expect()
    output_check(e, "out", np.zeros((13, 129))[:, ::2], np.dtype(np.float64), (13, 65), {})
    assert not e.must


def test_arena_places_and_overlaps_arrays_as_asked():
    bt = build({"a": A((3, 4), "float32", misalign=1), "b": A((2, 5), step=(1, -2)), "c": A((2, 5), near=("b", 1))})
    a, b, c = bt.objs["a"], bt.objs["b"], bt.objs["c"]
    assert a.dtype == np.float32 and not a.flags.aligned
    assert b.strides == (80, -16)
    assert np.may_share_memory(b, c) and not np.may_share_memory(a, b)
    # the gaps between arrays and between b's elements are 0xFF: NaN when read as floats
    gap = np.ones(bt.arena.size, bool)
    for x in (a, b, c):
        gap[element_bytes(x, bt.arena.ctypes.data)] = False
    assert (bt.arena[gap] == 0xFF).all()
    # a later rebuild gives the same bytes
    assert (build({"a": A((3, 4), "float32", misalign=1), "b": A((2, 5), step=(1, -2)),
                   "c": A((2, 5), near=("b", 1))}).arena == bt.arena).all()


def test_memory_check_sees_a_write_outside_the_output():
    bt = build({"x": A((3, 4)), "out": A((3, 4), step=(1, 2))})
    before = bt.arena.copy()
    out = bt.objs["out"]
    out[...] = 1.0
    check_memory(Outcome("reference", bt, before), out, "reference", "gemm")  # inside: fine
    np.asarray(bt.objs["x"])[0, 0] = 7.0
    with pytest.raises(FuzzFailure, match="outside its output"):
        check_memory(Outcome("reference", bt, before), out, "reference", "gemm")


def test_fuzz_log_written_before_each_call(tmp_path, monkeypatch):
    log = tmp_path / "fuzz.log"
    monkeypatch.setenv("FUZZ_LOG", str(log))
    case = GemmCase(A((2, 3)), A((3, 2)))
    run_gemm(case, backends=["reference"])
    assert log.read_text() == f"gemm\treference\t{case!r}\n"
    assert eval(repr(case)) == case  # the logged line rebuilds the case (replay)


def test_disagreement_is_a_failure(monkeypatch):
    """Backends that raise different classes fail the case even when each class is allowed."""
    monkeypatch.delenv("FUZZ_SURVEY", raising=False)
    e = Expect()
    e.bad((OverflowError, TypeError), "alpha does not fit a double")
    outcomes = []
    for be, exc in (("x", OverflowError("gemm: alpha too large")), ("y", TypeError("gemm: alpha must be real"))):
        bt = build({"a": A((2, 2))})
        outcomes.append(Outcome(be, bt, bt.arena.copy(), exc=exc))
    with pytest.raises(FuzzFailure, match="backends disagree: x=call:OverflowError,y=call:TypeError"):
        check_outcomes("gemm", None, e, outcomes, None)
    check_outcomes("gemm", None, e, outcomes[:1], None)  # one backend: nothing to disagree with


def test_fuzz_crash_selftest():
    """Dies of SIGSEGV in a logged call when FUZZ_SELFTEST_CRASH=1 (for the runner's test below);
    a rerun told about the crash (FUZZ_CRASHERS) skips that call and passes."""
    if not os.environ.get("FUZZ_SELFTEST_CRASH"):
        pytest.skip("the runner's crash self-test (FUZZ_SELFTEST_CRASH=1)")
    case = GemmCase(A((1, 1)), A((1, 1)), alpha=0.25)
    run_all("gemm", case, lambda *_: ctypes.string_at(0), Expect(), None, backends=["reference"])  # reads address 0


def test_fuzz_runner_reports_a_crash(tmp_path):
    """.ci/fuzz.sh: a test process killed by a signal is a failure reported with the call it was
    making, and the test is rerun past that call."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/api/ -> repository
    env = dict(os.environ, FUZZ_TESTS="test_fuzz_crash_selftest", FUZZ_SELFTEST_CRASH="1", FUZZ_MAX_CRASHES="1",
               FUZZ_OUT=str(tmp_path), PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    env.pop("FUZZ_SURVEY", None)
    run = subprocess.run(["bash", os.path.join(root, ".ci", "fuzz.sh")], env=env, capture_output=True, text=True,
                         timeout=300)
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "CRASH test_fuzz_crash_selftest: killed by SIGSEGV" in out, out
    assert "gemm\treference\tGemmCase(A((1, 1)), A((1, 1)), alpha=0.25)" in out, out
    assert "test_fuzz_crash_selftest: passed after 1 crash(es)" in out, out


def test_tap_oracles_agree_with_conv_reference():
    """The tap-by-tap oracles of layers with huge options give tests/_conv_reference.py's results."""
    rng = np.random.default_rng(0)
    geo_kw = dict(stride=(2, 1), padding=(1, 2, 0, 3), dilation=(2, 3))
    for layout in ("NCHW", "NHWC"):
        x = rng.standard_normal((2, 4, 7, 6) if layout == "NCHW" else (2, 7, 6, 4))
        w = rng.standard_normal((6, 2, 3, 2))
        vecs = dict(bias=rng.standard_normal(6), scale=rng.standard_normal(6), shift=rng.standard_normal(6))
        geo = ConvCase(None, None, groups=2, layout=layout, **geo_kw).geometry(Expect(), x.shape, w.shape)
        ref, bound = conv2d_ref_and_bound(x, w, groups=2, layout=layout, activation="relu6", dtype=np.float64,
                                          **vecs, **geo_kw)
        got, got_bound = conv_taps_ref(dict(x=x, w=w, **vecs), geo, layout, "relu6", np.dtype(np.float64))
        np.testing.assert_allclose(got, ref, rtol=1e-14, atol=1e-14)
        np.testing.assert_allclose(got_bound, bound, rtol=1e-14)
        geo1 = ConvCase(None, None, layout=layout, **geo_kw).geometry(Expect(), x.shape, (4, 4, 3, 2))
        np.testing.assert_array_equal(im2col_taps_ref(x, geo1, layout), im2col_ref(x, (3, 2), layout=layout, **geo_kw))
