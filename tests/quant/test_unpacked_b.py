"""The int8 products whose u8 activations the kernel reads unpacked (QUkernel::kernel_rows: NHWC
images, im2col rows padded to whole quads, qgemm's row-major a) against the oracle and against
the packed path (_cpu.int8_unpacked_b(False)), bit for bit: symmetric weights (w_zero_point 0,
what takes the path), every pixel count around the 12-pixel tile, k not a multiple of 4, padding
taps, strides, groups, both layouts, residuals, 1 and 2 threads, every engine of the int8 tests
(ISA caps without such a kernel pack as before)."""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels
from hpc_kernels import _cpu

from _qcpu import CPU_INT8
from _qref import epilogue, matmul_acc
from test_qconv2d import expect, layer

pytestmark = pytest.mark.skipif(not CPU_INT8, reason="no int8 engine in this build")

# (N, C, H, W, K, R, S, stride, padding, dilation, groups)
CASES = [(1, 16, 1, n, 40, 1, 1, 1, 0, 1, 1) for n in range(1, 14)] + [
    (1, 8, 3, 5, 33, 3, 3, 1, 1, 1, 1),  # k = 72, padding taps
    (1, 3, 11, 13, 32, 7, 7, 2, 3, 1, 1),  # an RGB stem: k = 147, rows padded to 148
    (2, 12, 6, 7, 64, 3, 3, 2, (1, 0, 2, 1), 1, 1),
    (1, 6, 5, 5, 8, 3, 3, 1, 1, 1, 2),  # groups: k = 27 per group
    (1, 20, 4, 4, 24, 1, 1, 2, 0, 1, 1),  # strided pointwise: lowered
    (1, 10, 5, 4, 36, 1, 1, 1, 0, 1, 1),  # C = 10: rows read to whole quads but the last (packed)
    (1, 147, 7, 9, 64, 1, 1, 1, 0, 1, 1),  # the stem's 147 channels pointwise: AMX, the 5-quad tail a tile step (plan)
    (1, 8, 7, 7, 16, 3, 3, 1, 2, 2, 1),  # dilation
]


@pytest.fixture(params=[True, False], ids=["unpacked", "packed"])
def unpacked(request):
    before = _cpu.int8_unpacked_b()
    _cpu.int8_unpacked_b(request.param)
    yield request.param
    _cpu.int8_unpacked_b(before)


def quant(rng, k):
    ws = rng.uniform(0.002, 0.02, k).astype(np.float32)
    bias = rng.integers(-3000, 3000, k, dtype=np.int32)
    ep = dict(bias=bias, a_scale=0.03, b_scale=ws, activation="relu", out_scale=0.5, out_zp=3, out_dtype=np.uint8)
    kw = dict(bias=bias, x_scale=0.03, w_scale=ws, activation="relu", out_scale=0.5, out_zero_point=np.uint8(3))
    return ep, kw


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c[:7])) + f"-s{c[7]}-g{c[10]}")
def test_qconv_symmetric(qengine, unpacked, case, layout, threads, rng):
    hpc_kernels.set_num_threads(threads)
    x, w, opts, geo = layer(rng, case, layout)
    k = w.shape[0]
    ep, kw = quant(rng, k)
    want = expect(x, w, opts, geo, 7, 0, **ep)
    got = hpc_kernels.qconv2d(x, w, x_zero_point=np.uint8(7), w_zero_point=0, backend=qengine, **kw, **opts)
    np.testing.assert_array_equal(got, want)
    plan = hpc_kernels.QConv2d(w, x_zero_point=np.uint8(7), w_zero_point=0, backend=qengine, **kw, **opts)
    np.testing.assert_array_equal(plan(x), want)
    i32 = hpc_kernels.qconv2d(x, w, x_zero_point=np.uint8(7), w_zero_point=0, backend=qengine, **opts)
    np.testing.assert_array_equal(i32, expect(x, w, opts, geo, 7, 0))


@pytest.mark.parametrize("threads", [1, 2])
def test_qconv_residual(qengine, unpacked, threads, rng):
    """The epilogue's residual on the unpacked path (NHWC: the vector store)."""
    hpc_kernels.set_num_threads(threads)
    x, w, opts, geo = layer(rng, (1, 32, 5, 5, 64, 3, 3, 1, 1, 1, 1), "NHWC")
    ep, kw = quant(rng, 64)
    res = rng.standard_normal((1, 5, 5, 64)).astype(np.float32)
    got = hpc_kernels.qconv2d(x, w, x_zero_point=np.uint8(7), residual=res, backend=qengine, **kw, **opts)
    np.testing.assert_array_equal(got, expect(x, w, opts, geo, 7, 0, residual=res, **ep))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("m,k,n", [(1, 64, 40), (13, 32, 33), (25, 8, 64), (7, 12, 1), (50, 260, 70), (12, 9, 5),
                                   (200, 147, 64), (45, 147, 33), (2, 99, 70)])
def test_qgemm_symmetric(qengine, unpacked, m, k, n, threads, rng):
    """qgemm's a (u8, m x k, row-major) is the kernel's B: unpacked where k is whole quads."""
    hpc_kernels.set_num_threads(threads)
    a = rng.integers(0, 256, (m, k), dtype=np.uint8)
    b = rng.integers(-128, 128, (k, n), dtype=np.int8)
    got = hpc_kernels.qgemm(a, b, a_zero_point=np.uint8(9), backend=qengine)
    np.testing.assert_array_equal(got, matmul_acc(a, b, 9, 0))
    bias = rng.integers(-500, 500, n, dtype=np.int32)
    got = hpc_kernels.qgemm(a, b, a_zero_point=np.uint8(9), a_scale=0.02, b_scale=0.01, out_scale=0.3, bias=bias,
                            backend=qengine)
    want = epilogue(matmul_acc(a, b, 9, 0), bias=bias, a_scale=0.02, b_scale=np.float32(0.01), out_scale=0.3,
                    out_dtype=np.uint8)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("m,k,width", [(70, 147, 160), (33, 9, 12), (50, 147, 147)])
def test_qgemm_rows_to_whole_quads(qengine, unpacked, m, k, width, rng):
    """k not whole quads: every row but the last is read to its last whole quad (gemm/qgemm.cpp),
    the bytes past k being the next row's (or, in a column slice, the wider matrix's other
    columns, here 255 to show they never count); the last row goes the packed way."""
    wide = np.full((m, width), 255, np.uint8)
    wide[:, :k] = rng.integers(0, 256, (m, k), dtype=np.uint8)
    a = wide[:, :k]
    b = rng.integers(-128, 128, (k, 40), dtype=np.int8)
    np.testing.assert_array_equal(hpc_kernels.qgemm(a, b, a_zero_point=np.uint8(5), backend=qengine),
                                  matmul_acc(a, b, 5, 0))
    res = rng.standard_normal((m, 40)).astype(np.float32)
    got = hpc_kernels.qgemm(a, b, a_zero_point=np.uint8(5), a_scale=0.02, b_scale=0.01, residual=res, backend=qengine)
    want = epilogue(matmul_acc(a, b, 5, 0), a_scale=0.02, b_scale=np.float32(0.01), residual=res)
    np.testing.assert_array_equal(got, want)


def test_switch_reported():
    before = _cpu.int8_unpacked_b()
    try:
        assert _cpu.int8_unpacked_b(False) is False
        assert _cpu.qinfo()["unpacked_b"] is False
        assert _cpu.int8_unpacked_b(True) is True
    finally:
        _cpu.int8_unpacked_b(before)
