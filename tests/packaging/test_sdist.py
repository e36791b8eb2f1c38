"""The source distribution holds what a build needs and nothing a build left behind: no build/
tree (object files), no virtual environment, no compiled extension; LICENSE, the sources, the
build files. Built here with scikit-build-core's own sdist hook (a few seconds, no compiler)."""
from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

pytest.importorskip("scikit_build_core", reason="scikit-build-core (test extra) not installed")

ROOT = Path(__file__).resolve().parents[2]
if not (ROOT / "pyproject.toml").is_file():
    pytest.skip("needs the source tree (pyproject.toml)", allow_module_level=True)

# Never in an sdist: build trees, virtual environments (.venv, CI's .ci-venv*), compiled objects.
FORBIDDEN_TOP = ("build", "dist", ".venv", ".ci-venv", ".pytest_cache", ".benchmarks")
FORBIDDEN_SUFFIX = (".so", ".o", ".pyc")
REQUIRED_FILES = ("LICENSE", "pyproject.toml", "CMakeLists.txt", "README.md", "kernels/__init__.py",
                  "csrc/arch/table.cpp", "backends/cuda/gemm.cu")
REQUIRED_DIRS = ("csrc", "kernels", "backends", "cmake")


@pytest.fixture(scope="module")
def names(tmp_path_factory):
    out = tmp_path_factory.mktemp("sdist")
    code = "import sys; from scikit_build_core.build import build_sdist; print(build_sdist(sys.argv[1]))"
    p = subprocess.run([sys.executable, "-c", code, str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    archive = out / p.stdout.strip().splitlines()[-1]
    with tarfile.open(archive) as tar:
        members = tar.getnames()
    top = {n.split("/", 1)[0] for n in members}
    assert len(top) == 1, top  # everything under one <name>-<version>/ folder
    return [n.split("/", 1)[1] for n in members if "/" in n]


def test_nothing_built_or_local_ships(names):
    bad = [n for n in names if n.split("/", 1)[0].startswith(FORBIDDEN_TOP) or n.endswith(FORBIDDEN_SUFFIX)
           or "/__pycache__/" in f"/{n}"]
    assert not bad, f"{len(bad)} files that must not ship, e.g. {bad[:5]}"


def test_what_a_build_needs_ships(names):
    files = set(names)
    assert not [f for f in REQUIRED_FILES if f not in files], sorted(files)[:50]
    for d in REQUIRED_DIRS:
        assert any(n.startswith(d + "/") for n in names), f"{d}/ is missing"
    # every C++ source of the repository (csrc/ is what CMakeLists.txt globs)
    sources = {str(p.relative_to(ROOT)) for p in (ROOT / "csrc").rglob("*") if p.is_file() and p.suffix in (".cpp", ".hpp", ".h")}
    assert sources <= files, sorted(sources - files)[:10]
