#!/usr/bin/env bash
# hpc-kernels beside Hugging Face's kernels and transformers in one new environment
# (tests/packaging/test_coexistence.py): builds the wheel from this checkout (pip's isolated build:
# scikit-build-core clears the build folder for each new isolated environment, so the engine is
# compiled again, ~1 min), and gives the test torch from the machine's local CPU wheel where there is one (an unpinned torch from
# PyPI would pull gigabytes of CUDA libraries). Run from the repository root with the CI venv active.
set -euo pipefail
wheel_dir="$(mktemp -d)"
pip wheel -q --no-deps . -w "$wheel_dir"
KERNELS_TEST_WHEEL="$(ls "$wheel_dir"/hpc_kernels-*.whl)"
export KERNELS_TEST_WHEEL
torch_wheel="$(ls /opt/wheels/torch-2.13.0+cpu-*.whl 2>/dev/null | head -1 || true)"
if [ -n "$torch_wheel" ]; then export KERNELS_TEST_TORCH="$torch_wheel"; else echo "coexistence: no local torch wheel; transformers is checked without models"; fi
python -m pytest tests/packaging/test_coexistence.py -q -rs
