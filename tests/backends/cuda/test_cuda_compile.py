"""Every CUDA kernel instantiation compiles for sm_80 and sm_90 through NVRTC (the nvidia-cuda-nvrtc wheel via CuPy's binding): no GPU needed, so CI catches syntax and template errors."""
from __future__ import annotations

import pytest

from hpc_kernels.backends.cuda import sources as S

nvrtc = pytest.importorskip("cupy_backends.cuda.libs.nvrtc", reason="cupy is not installed: pip install '.[cuda12]'")

try:
    from hpc_kernels.backends.cuda import nvrtc as N

    N.version()
except Exception as exc:  # libnvrtc not found
    pytest.skip(f"NVRTC is not loadable ({exc}): pip install nvidia-cuda-nvrtc-cu12", allow_module_level=True)


def test_every_instantiation_compiles_for_sm80_and_sm90():
    """The whole catalogue (every tile candidate, operand layout and dtype) in parallel
    processes; each name must lower to a symbol of a non-empty cubin, and ptxas must report no
    register spills (a spill would put local-memory traffic in the inner loop)."""
    done = {}
    for c in N.compile_catalogue(S.ARCHS):
        assert c.cubin_bytes > 0
        assert not N.spills(c), (c.file, c.arch, N.spills(c)[:3])
        for name, sym in c.names.items():
            assert sym.startswith("_Z"), (c.file, c.arch, name, sym)
            done[(c.file, c.arch, name)] = sym
    want = {(f, arch, n) for f, names in S.by_file().items() for arch in S.ARCHS for n in names}
    assert set(done) == want


def test_defaults_are_in_the_catalogue():
    """What runs without tuning is part of what the check compiles."""
    names = {n for _, n in S.catalogue()}
    for dt, cfg in S.SIMT_DEFAULT.items():
        assert S.gemm_name(cfg, dt, True, False) in names
        assert S.conv_implicit_name(cfg, dt, True) in names
    for kind, cfg in S.TC_DEFAULT.items():
        dt = "float32" if kind == "tf32" else kind
        assert S.gemm_name(cfg, dt, True, True) in names
        assert S.conv_implicit_name(cfg, dt, True, True) in names
        assert S.conv_implicit_name(S.TC_CONV_NCHW_DEFAULT[kind], dt, False, False) in names


def test_a_broken_kernel_fails_the_check():
    """The check is real: a template error in a name expression is a CompileError."""
    with pytest.raises(N.CompileError, match="sm_90"):
        N.compile_names("gemm.cu", ["gemm_simt<float, 128, 128, 8, 8, 8, 3, true, no_such_value>"], 90)
