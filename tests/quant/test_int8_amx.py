"""The int8 AMX paths (unpacked-row products on AMX tiles, where the CPU has AMX-INT8 and the OS
grants the tile state: 2x2 tiles of 32 pixels x 32 channels for k >= 64, ukr_s8_amx_32x32, and the
12-pixel tiles of the VNNI kernel for pixel tails with k >= 256): bit-identical to the same products on vpdpbusd
and to the int64 oracle, with k tails of every quad count (vpdpbusd on top of the tile sums),
several k blocks (int32 partial sums between them), pixel tails, every output mode, rows 64-byte
aligned or not (both read in place), rows zero-padded to whole lines (the tail as one more tile
step), qgemm and NHWC convolutions (image rows in place
and padded im2col rows), 1 and 2 threads. Skipped where the machine has no AMX (the other int8
tests cover the kernels there)."""
from __future__ import annotations

import numpy as np
import pytest

import hpc_kernels
from _qcpu import CPU_INT8

if CPU_INT8:
    from hpc_kernels import _cpu

pytestmark = pytest.mark.skipif(not CPU_INT8 or not _cpu.int8_amx(), reason="no AMX-INT8 here (or no int8 engine)")

from _qref import epilogue, matmul_acc  # noqa: E402


@pytest.fixture
def both_paths(cpu_config):
    """Runs f() with AMX on, then off; returns both results (AMX restored on)."""
    cpu_config("avx512")
    assert _cpu.qinfo()["amx"]

    def run(f):
        try:
            _cpu.int8_amx(True)
            on = f()
            _cpu.int8_amx(False)
            off = f()
        finally:
            _cpu.int8_amx(True)
        return on, off

    return run


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("m,k,n", [(12, 256, 32), (36, 260, 40), (25, 300, 33), (48, 1028, 64), (24, 2052, 32),
                                   (60, 4100, 31), (40, 64, 33), (70, 100, 20), (64, 128, 64),
                                   (70, 4160, 64), (40, 8200, 32)])  # (2-3 k blocks on whole channel panels: sums reloaded as tiles)
def test_qgemm_amx_equals_vnni_and_oracle(both_paths, m, k, n, threads, rng):
    a = rng.integers(0, 256, (m, k), dtype=np.uint8)
    b = rng.integers(-128, 128, (k, n), dtype=np.int8)
    b[0, :] = -128  # saturation edges of the products
    a[:, 0] = 255
    want = matmul_acc(a, b, 7, 0)
    with hpc_kernels.num_threads(threads):
        on, off = both_paths(lambda: hpc_kernels.qgemm(a, b, a_zero_point=7))
    np.testing.assert_array_equal(on, off)
    np.testing.assert_array_equal(on, epilogue(want))
    bias = rng.integers(-1000, 1000, n, dtype=np.int32)
    ws = (rng.random(n) * 0.001 + 1e-4).astype(np.float32)
    kw = dict(a_zero_point=7, a_scale=0.05, b_scale=ws, out_scale=0.4, out_zero_point=np.uint8(20), bias=bias,
              activation="relu")
    with hpc_kernels.num_threads(threads):
        on, off = both_paths(lambda: hpc_kernels.qgemm(a, b, **kw))
    np.testing.assert_array_equal(on, off)
    np.testing.assert_array_equal(on, epilogue(want, bias=bias, a_scale=0.05, b_scale=ws, out_scale=0.4, out_zp=20,
                                               out_dtype=np.uint8, activation="relu"))


@pytest.mark.parametrize("c,r,h", [(64, 3, 9), (40, 3, 7), (300, 1, 6), (1024, 1, 5)])
def test_nhwc_conv_amx_equals_vnni(both_paths, c, r, h, rng):
    """Image rows in place (1x1) and im2col rows padded to whole quads (3x3 of 40 channels: k = 360)."""
    x = rng.integers(0, 256, (2, h, h + 3, c), dtype=np.uint8)
    w = rng.integers(-128, 128, (48, c, r, r), dtype=np.int8)
    kw = dict(padding=r // 2, layout="NHWC", x_zero_point=3, x_scale=0.02, w_scale=0.003, out_scale=0.3,
              out_zero_point=np.uint8(9))
    on, off = both_paths(lambda: hpc_kernels.qconv2d(x, w, **kw))
    np.testing.assert_array_equal(on, off)
    ref = hpc_kernels.qconv2d(x, w, backend="reference", **kw)
    np.testing.assert_array_equal(on, ref)


def _rows_at(buf_offset: int, m: int, k: int, ldb: int, rng) -> np.ndarray:
    """An (m, k) uint8 view whose rows are ldb bytes apart and whose data starts buf_offset bytes
    past a 64-byte boundary."""
    raw = np.zeros(m * ldb + 128, np.uint8)
    start = (-raw.ctypes.data) % 64 + buf_offset
    view = np.lib.stride_tricks.as_strided(raw[start:], shape=(m, k), strides=(ldb, 1))
    view[...] = rng.integers(0, 256, (m, k), dtype=np.uint8)
    return view


@pytest.mark.parametrize("offset,ldb", [(0, 384), (0, 320), (16, 384), (4, 336)])
@pytest.mark.parametrize("threads", [1, 2])
def test_wide_tiles_aligned_and_copied_rows(both_paths, offset, ldb, threads, rng):
    """Rows in place (64-byte aligned data and stride) and copied (any other): pixel counts with two
    full 32-pixel tiles and a tail, channels with a tail, k = 320 (5 tiles of 64 k, no tail)."""
    m, k, n = 77, 320, 70
    a = _rows_at(offset, m, k, ldb, rng)
    b = rng.integers(-128, 128, (k, n), dtype=np.int8)
    want = matmul_acc(a, b, 5, 0)
    with hpc_kernels.num_threads(threads):
        on, off = both_paths(lambda: hpc_kernels.qgemm(a, b, a_zero_point=5))
    np.testing.assert_array_equal(on, epilogue(want))
    np.testing.assert_array_equal(off, epilogue(want))


def test_wide_tiles_with_skip_addition(both_paths, rng):
    """The requantized output and QLinearAdd's skip tensor through the wide tiles' chunked epilogue."""
    x = rng.integers(0, 256, (1, 9, 8, 256), dtype=np.uint8)
    w = rng.integers(-128, 128, (40, 256, 1, 1), dtype=np.int8)
    skip = rng.integers(0, 256, (1, 9, 8, 40), dtype=np.uint8)
    kw = dict(layout="NHWC", x_zero_point=3, x_scale=0.02, w_scale=0.003, out_scale=0.3, out_zero_point=np.uint8(9),
              skip_scale=0.25, skip_zero_point=np.uint8(100), sum_scale=0.5, sum_zero_point=np.uint8(7))
    on, off = both_paths(lambda: hpc_kernels.qconv2d(x, w, skip=skip, **kw))
    np.testing.assert_array_equal(on, off)
    np.testing.assert_array_equal(on, hpc_kernels.qconv2d(x, w, skip=skip, backend="reference", **kw))


def test_another_librarys_tiles_between_products(rng):
    """onnxruntime's MatMulInteger runs AMX tiles of its own configuration on this thread (1 intra-op
    thread: the caller's) between two of our products: ours reload their configuration per product."""
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    k = 512
    g = helper.make_graph([helper.make_node("MatMulInteger", ["a", "b"], ["y"])], "mmi",
                          [helper.make_tensor_value_info("a", TensorProto.UINT8, [64, k]),
                           helper.make_tensor_value_info("b", TensorProto.INT8, [k, 64])],
                          [helper.make_tensor_value_info("y", TensorProto.INT32, [64, 64])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    a = rng.integers(0, 256, (64, k), dtype=np.uint8)
    b = rng.integers(-128, 128, (k, 64), dtype=np.int8)
    a2 = rng.integers(0, 256, (36, 300), dtype=np.uint8)  # another k tail: another configuration of ours
    b2 = rng.integers(-128, 128, (300, 40), dtype=np.int8)
    want, want2 = matmul_acc(a, b, 0, 0), matmul_acc(a2, b2, 0, 0)
    with hpc_kernels.num_threads(1):
        for _ in range(3):  # the same k tail twice in a row around onnxruntime's run: only the product count differs
            np.testing.assert_array_equal(hpc_kernels.qgemm(a, b), want)
            np.testing.assert_array_equal(sess.run(None, {"a": a, "b": b})[0], want)
            np.testing.assert_array_equal(hpc_kernels.qgemm(a, b), want)
            np.testing.assert_array_equal(hpc_kernels.qgemm(a2, b2), want2)


@pytest.mark.parametrize("threads", [1, 2])
def test_wide_tiles_int32_straight_to_c(both_paths, threads, rng):
    """int32 output with the channels contiguous: the 2x2 tiles start from the per-channel term and
    are stored straight into C with its pixel stride (an out that is a column slice of a wider
    array here); the columns around the slice are never written. Weight zero points (a per-pixel
    term) and a k tail keep the general path: both compared with the oracle."""
    m, n = 70, 72
    for k, w_zp in ((192, 0), (192, 3), (200, 0)):
        a = rng.integers(0, 256, (m, k), dtype=np.uint8)
        b = rng.integers(-128, 128, (k, n), dtype=np.int8)
        want = matmul_acc(a, b, 9, w_zp)
        wide = np.full((m, n + 30), -7, np.int32)
        out = wide[:, 10:10 + n]
        kw = dict(a_zero_point=9, b_zero_point=np.int8(w_zp), out=out) if w_zp else dict(a_zero_point=9, out=out)

        def run():
            wide[...] = -7
            hpc_kernels.qgemm(a, b, **kw)
            return wide.copy()

        with hpc_kernels.num_threads(threads):
            on, off = both_paths(run)
        for got in (on, off):
            np.testing.assert_array_equal(got[:, 10:10 + n], epilogue(want))
            assert (got[:, :10] == -7).all() and (got[:, 10 + n:] == -7).all()
