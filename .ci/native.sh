#!/usr/bin/env bash
# The C++ engine without Python: kernels_engine_test (csrc/tests/) built by plain CMake and run by
# CTest in two forms, each in its own build folder: with OpenMP, and without it
# (KERNELS_NO_OPENMP=ON: the single-threaded engine of platforms without libgomp, where a request
# for more threads must still compute every element). Any failed case fails the job.
# Run from anywhere: bash .ci/native.sh. KERNELS_NATIVE_JOBS caps the build's parallel jobs.
set -euo pipefail
cd "$(dirname "$0")/.."

# CMake >= 3.18 (the project's minimum) and its ctest: the system's, or the PyPI wheel in the
# active environment (.ci/run calls this inside its venv).
command -v cmake >/dev/null 2>&1 || python3 -m pip install -q cmake
jobs="${KERNELS_NATIVE_JOBS:-$(nproc 2>/dev/null || echo 2)}"

for form in openmp no-openmp; do
  dir="build/ci-native-$form"
  flags=(-DKERNELS_BUILD_PYTHON=OFF -DKERNELS_BUILD_TESTS=ON -DKERNELS_BUILD_BLAS=OFF -DCMAKE_BUILD_TYPE=Release)
  if [ "$form" = no-openmp ]; then
    flags+=(-DKERNELS_NO_OPENMP=ON); banner="built without OpenMP"
  else
    flags+=(-DKERNELS_NO_OPENMP=OFF); banner="built with OpenMP"
  fi
  echo "== native engine test, $form ($dir)"
  cmake -S . -B "$dir" "${flags[@]}" >/dev/null
  cmake --build "$dir" --parallel "$jobs"
  log="$dir/engine_test.log"
  (cd "$dir" && ctest --output-on-failure -V) | tee "$log"
  # The form must be the one asked for: were KERNELS_NO_OPENMP ignored, the single-thread clamp
  # (gemm.cpp useful_threads) would go untested while every case still passed.
  grep -q "kernels_engine_test: $banner" "$log" || { echo "native.sh: $form: expected a test binary $banner"; exit 1; }
  if [ "$form" = openmp ]; then
    # Teams smaller than asked: a thread limit, dynamic teams. Every part must still run (the
    # drivers rerun on one thread or spread their parts: csrc/gemm/driver.hpp, conv/conv_direct.cpp).
    for env in OMP_THREAD_LIMIT=1 "OMP_DYNAMIC=true OMP_THREAD_LIMIT=2"; do
      echo "== native engine test, $form, $env"
      env $env GOMP_SPINCOUNT=1000 "$dir/kernels_engine_test" > "$dir/engine_test_limited.log" 2>&1 \
        || { tail -30 "$dir/engine_test_limited.log"; echo "native.sh: the engine test failed with $env"; exit 1; }
      tail -1 "$dir/engine_test_limited.log"
    done
  fi
done
echo "native.sh: both forms passed"
