"""hpc-kernels and Hugging Face's `kernels` (with transformers, which requires it) in one environment.

Both used to install a top-level package named `kernels`: one overwrote the other's files, pip
check saw nothing, and uninstalling either broke the other. The package now installs as
hpc_kernels. This test builds nothing: it installs a built hpc-kernels wheel
(KERNELS_TEST_WHEEL, which .ci/coexistence.sh sets) with `kernels` and `transformers` from PyPI into
a new virtual environment, checks that both packages work, and that uninstalling either leaves the
other whole. torch (what transformers' models and its `kernels` integration need) comes from
KERNELS_TEST_TORCH, a wheel file or requirement, when set; without it transformers runs without
models and the check is of `import kernels` and transformers' kernels integration module.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

WHEEL = os.environ.get("KERNELS_TEST_WHEEL", "")
TORCH = os.environ.get("KERNELS_TEST_TORCH", "")

pytestmark = pytest.mark.skipif(
    not WHEEL, reason="needs a built hpc-kernels wheel in KERNELS_TEST_WHEEL and PyPI (.ci/coexistence.sh runs it)"
)


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900, **kw)
    assert p.returncode == 0, f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


# Run inside the new environment from a neutral directory: hpc_kernels computes, Hugging Face's
# kernels is the one `import kernels` finds, and transformers imports a model that pulls it in.
BOTH_WORK = textwrap.dedent("""
    import json, pathlib
    import numpy as np
    import hpc_kernels
    a = np.arange(12.0).reshape(3, 4); b = np.arange(8.0).reshape(4, 2)
    assert np.array_equal(hpc_kernels.gemm(a, b), a @ b)
    assert hpc_kernels.info()["backends"]["cpu"]["available"], hpc_kernels.info()["backends"]["cpu"]
    import kernels
    here = pathlib.Path(kernels.__file__).parent
    assert here.name == "kernels" and here != pathlib.Path(hpc_kernels.__file__).parent, kernels.__file__
    assert hasattr(kernels, "get_kernel") and not hasattr(kernels, "gemm"), dir(kernels)
    import transformers
    out = {"hpc_kernels": hpc_kernels.__file__, "kernels": kernels.__file__, "transformers": transformers.__version__}
    try:
        import torch
    except ImportError:
        import transformers.integrations.hub_kernels as hub  # the module that imports `kernels`
        out["models"] = "no torch: " + hub.__name__
    else:
        from transformers import BertConfig, BertModel
        m = BertModel(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                 intermediate_size=37, vocab_size=100))
        out["models"] = list(m(torch.tensor([[1, 2, 3]])).last_hidden_state.shape)
    print(json.dumps(out))
""")


def test_hpc_kernels_beside_hugging_face_kernels_and_transformers(tmp_path):
    env_dir = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(env_dir)])
    py = str(env_dir / "bin" / "python")
    pip = [py, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    extra = [TORCH] if TORCH else []
    _run(pip + [WHEEL, "kernels", "transformers", *extra])
    _run([py, "-m", "pip", "check"])

    p = _run([py, "-c", BOTH_WORK], cwd=tmp_path)
    assert '"hpc_kernels"' in p.stdout and "site-packages/kernels/__init__.py" in p.stdout, p.stdout
    if TORCH:
        assert "[1, 3, 32]" in p.stdout, p.stdout
    _run([str(env_dir / "bin" / "hpc-kernels"), "info"], cwd=tmp_path)

    # Uninstalling either leaves the other whole (each RECORD names only its own files).
    _run([py, "-m", "pip", "uninstall", "-y", "-q", "kernels"])
    _run([py, "-c", "import numpy as np, hpc_kernels; assert hpc_kernels.gemm(np.eye(3), np.eye(3))[2, 2] == 1"], cwd=tmp_path)
    _run(pip + ["kernels"])
    _run([py, "-m", "pip", "uninstall", "-y", "-q", "hpc-kernels"])
    _run([py, "-c", "import kernels; kernels.get_kernel"], cwd=tmp_path)
    assert not list(env_dir.glob("lib/python*/site-packages/hpc_kernels/*.py"))
