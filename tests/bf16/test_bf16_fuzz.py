"""Property-based fuzzing (hypothesis, the profiles tests/conftest.py registers; .ci/fuzz.sh runs
the CI form) of the bf16 GEMM on the cpu backend: random shapes around every kernel's tile edges
(AMX 32x32 tiles and 32-deep k steps where the CPU has them, then also with AMX off), transposes,
strided views, alpha/beta, bf16 or float32 output, several k blocks and threads, and `a` in a
64-byte-aligned buffer whose rows go on past k in NaN (where m and k are multiples of 32 the AMX
kernel reads it in place, and must read nothing past k): within the K-scaled bound of the float64
product (tests/bf16/_bref.py), and nothing written outside the output."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("hypothesis")
pytest.importorskip("ml_dtypes")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import hpc_kernels as hk  # noqa: E402
from _bref import BF16, F32, check, rand  # noqa: E402
from _helpers import ISAS  # noqa: E402
from hpc_kernels import _cpu  # noqa: E402

pytestmark = pytest.mark.skipif("avx512" not in ISAS and "avx2" not in ISAS, reason="no SIMD bf16 kernel here")

_DIMS = st.sampled_from([1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 97, 130])


@st.composite
def cases(draw):
    aligned = draw(st.booleans())  # (with m a multiple of 32, so that k decides whether B is read in place)
    return dict(m=draw(st.sampled_from([32, 64, 96]) if aligned else _DIMS), n=draw(_DIMS), k=draw(st.sampled_from([1, 2, 3, 31, 32, 33, 40, 64, 96, 97, 300, 4200, 4224])),
                trans_a=draw(st.booleans()), trans_b=draw(st.booleans()), step=draw(st.sampled_from([1, 2])),
                out_f32=draw(st.booleans()), beta=draw(st.sampled_from([0.0, 1.0, -0.5])),
                alpha=draw(st.sampled_from([1.0, 2.0])), amx=draw(st.booleans()), threads=draw(st.sampled_from([1, 2])),
                aligned=aligned, seed=draw(st.integers(0, 2**31 - 1)))


@given(cases())
def test_bf16_gemm_within_bound_and_inside_out(p):
    if p["k"] >= 4200 and p["m"] * p["n"] > 2000:  # several k blocks, kept small
        return
    rng = np.random.default_rng(p["seed"])
    m, n, k, s = p["m"], p["n"], p["k"], p["step"]
    a = rand(rng, ((k, m * s) if p["trans_a"] else (m, k * s)))[:, ::s]
    b = rand(rng, ((n, k * s) if p["trans_b"] else (k, n * s)))[:, ::s]
    if p["aligned"] and not p["trans_a"] and s == 1:
        wide = hk.empty_aligned((m, (k + 31) // 32 * 32 + 32), BF16)
        wide[...] = np.nan
        wide[:, :k] = a
        a = wide[:, :k]
    dt = F32 if p["out_f32"] else BF16
    c0 = rand(rng, (m, n)).astype(dt)
    buf = np.full((m + 2, n + 3), np.nan, dt)  # the output inside a NaN frame: nothing may touch the frame
    out = buf[1:m + 1, 1:n + 1]
    out[...] = c0
    old = _cpu.bf16_amx(p["amx"])
    try:
        with hk.num_threads(p["threads"]):
            hk.gemm(a, b, out, alpha=p["alpha"], beta=p["beta"], trans_a=p["trans_a"], trans_b=p["trans_b"],
                    out_dtype=np.float32 if p["out_f32"] else None)  # in place: c is out
    finally:
        _cpu.bf16_amx(old)
    av, bv = (a.T if p["trans_a"] else a), (b.T if p["trans_b"] else b)
    check(out, av, bv, c0, alpha=p["alpha"], beta=p["beta"], what=str(p))
    frame = np.ones(buf.shape, bool)
    frame[1:m + 1, 1:n + 1] = False
    assert np.isnan(buf[frame].astype(F32)).all(), "written outside out"
