"""Our AMX products leave the thread's tile configuration as they found it: onnxruntime's MLAS
loads its own once per thread and assumes it stays, so after our qgemm of an edge shape (17-31
pixels: tiles of fewer rows) its next AMX QGEMM raised SIGILL (or, with the same tile shapes and
fewer rows, would have summed fewer rows). Run in a child process, which a SIGILL would kill, with
onnxruntime's MatMulInteger first (its configuration loaded), then ours, then onnxruntime again."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from hpc_kernels import _cpu

pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.skipif(not _cpu.int8_amx() and not _cpu.bf16_amx(), reason="no AMX here")

CHILD = textwrap.dedent("""
    import numpy as np, onnxruntime as ort, hpc_kernels as hk
    from onnx import TensorProto, helper
    hk.set_num_threads(1)
    rng = np.random.default_rng(0)
    A = rng.integers(0, 256, (64, 256), dtype=np.uint8)
    B = rng.integers(-128, 128, (256, 64), dtype=np.int8)
    g = helper.make_graph([helper.make_node("MatMulInteger", ["A", "B", "azp"], ["Y"])], "mmi",
                          [helper.make_tensor_value_info("A", TensorProto.UINT8, [64, 256])],
                          [helper.make_tensor_value_info("Y", TensorProto.INT32, [64, 64])],
                          [helper.make_tensor("B", TensorProto.INT8, [256, 64], B.tobytes(), raw=True),
                           helper.make_tensor("azp", TensorProto.UINT8, [], [3])])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    s = ort.InferenceSession(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString(),
                             opts, providers=["CPUExecutionProvider"])
    ref = (A.astype(np.int64) - 3) @ B.astype(np.int64)
    assert np.array_equal(s.run(None, {"A": A})[0], ref)
    for px in PIXELS:
        if BF16:  # (first: its full-tile configuration would otherwise hide the int8 edge's)
            import ml_dtypes
            x = rng.integers(-3, 4, (px, 96)).astype(ml_dtypes.bfloat16)
            hk.gemm(x, rng.integers(-3, 4, (96, 40)).astype(ml_dtypes.bfloat16))
            assert np.array_equal(s.run(None, {"A": A})[0], ref), px
        a = rng.integers(0, 256, (px, 256), dtype=np.uint8)
        b = rng.integers(-128, 128, (256, 64), dtype=np.int8)
        got = hk.qgemm(a, b, a_zero_point=3)
        assert np.array_equal(got, (a.astype(np.int64) - 3) @ b.astype(np.int64)), px
        assert np.array_equal(s.run(None, {"A": A})[0], ref), px
    print("ok")
""")


@pytest.mark.parametrize("pixels", [[17], [5, 20, 31, 49], [32, 1]])
def test_onnxruntime_amx_after_our_products(pixels):
    code = f"PIXELS = {pixels}\nBF16 = {bool(_cpu.bf16_amx())}\n" + CHILD
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
