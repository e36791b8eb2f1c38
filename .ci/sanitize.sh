#!/usr/bin/env bash
# CI sanitizer job: hpc_kernels._cpu built with ASan + UBSan (KERNELS_SANITIZE=ON) in its own venv, and
# the cpu backend's test files run on it at every ISA cap the CPU runs; any sanitizer report fails.
#
# Full form (the default): every test file of FILES at every cap in CAPS (KERNELS_CPU_ISA=avx512,
# avx2, generic: those this CPU runs), the fuzzer at the native cap only (it runs the other ISAs as
# backends of its own). The caps matter beyond the tests' own engine sweeps: the cap decides the
# engine of every test without an engine fixture, and which gathers, depthwise kernels and weight
# packers (AVX-512 only) serve the convolutions. Measured on the 2-core CI machine while other jobs
# shared it (load 4-5): 8.5 min wall, 6 min CPU; the venv with the -O1 ASan build 3.6 min of it,
# each cap's pass of 7026 tests 1.3 min (the job prints every step's wall and CPU time). With the
# int8, bf16 and banded-chain files (10205 tests a cap) on the quiet Zen 5 CI machine: 5.0 min in
# all, 50 s a cap.
# `--short`: every file at the native cap, only CAP_FILES at the others (for a slower machine).
# Usage: bash .ci/sanitize.sh [--short]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
start=$SECONDS

SHORT=0
[ "${1:-}" = "--short" ] && SHORT=1

# Every timed step reports its wall and CPU time (a busy machine inflates the first, barely the second).
TIMEFORMAT='sanitize: ... took %0R s wall, %0U + %0S s cpu'

rm -rf .ci-venv-asan
python3 -m venv .ci-venv-asan
# shellcheck disable=SC1091
. .ci-venv-asan/bin/activate
python -m pip install -q --upgrade pip
# install.strip=false: scikit-build-core strips the installed module of Release builds, and the
# reports' stack frames need its debug information to name functions and source lines.
echo "sanitize: pip install with KERNELS_SANITIZE=ON"
time pip install -q ".[test]" -Ccmake.define.KERNELS_SANITIZE=ON -Cinstall.strip=false -Cbuild-dir=build/ci-asan

# The gcc runtimes the extension links against. The interpreter is not instrumented, so ASan's
# runtime must be loaded first (LD_PRELOAD) for its malloc interposition to see every allocation;
# else importing the module aborts ("ASan runtime does not come first in initial library list").
libasan=$(g++ -print-file-name=libasan.so)
libubsan=$(g++ -print-file-name=libubsan.so)
for lib in "$libasan" "$libubsan"; do
  [ -e "$lib" ] || { echo "sanitize: $lib not found (g++ without sanitizer runtimes?)"; exit 1; }
done
# detect_leaks=0: CPython does not free its interned objects, modules and arenas at exit, so
# LeakSanitizer would report thousands of "leaks" on every run, none of them the extension's.
# abort_on_error=0 keeps ASan's exit status 1 (a report is an ordinary failure, no core dump).
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0
# halt_on_error=1: the first UB report ends the process (the extension is also compiled with
# -fno-sanitize-recover=undefined), so no report can scroll by in a passing run.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
asan_env=(env LD_PRELOAD="$libasan $libubsan")
# passive: OpenMP threads that wait sleep instead of spinning. The tests make tens of thousands of
# small calls, each a parallel region; with libgomp's default spin-waiting, other processes on a
# 2-core machine made them 10-15x slower (531 tests of test_conv2d_broadcast_batch.py: 50-90 s
# against 6 s passive, at load 5-7), so the job's time depended on its neighbours.
export OMP_WAIT_POLICY=passive
# --capture=sys: the runtimes write their reports straight to file descriptor 2, which pytest's
# default (fd) capture redirects to a temporary file that is lost when the report ends the process:
# the job would fail with no report at all.
pytest_opts=(-q -p no:cacheprovider --capture=sys)

# Run from a scratch directory: from the repository root, `import hpc_kernels` would find the source
# tree (no compiled module) before the installed package.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
so=$(cd "$scratch" && python - <<'PY'
import glob, os, sysconfig
(so,) = glob.glob(os.path.join(sysconfig.get_paths()["platlib"], "hpc_kernels", "_cpu*.so"))
print(so)
PY
)

# 1. The installed module is the instrumented one: linked against both runtimes and calling them.
# (Outputs are captured first: `tool | grep -q` fails under pipefail when grep exits early.)
libs=$(ldd "$so") syms=$(nm -D --undefined-only "$so") sections=$(readelf -S "$so")
grep -q libasan <<<"$libs" || { echo "$libs"; echo "sanitize: $so does not link libasan"; exit 1; }
grep -q libubsan <<<"$libs" || { echo "$libs"; echo "sanitize: $so does not link libubsan"; exit 1; }
grep -q __asan_report_load <<<"$syms" || { echo "sanitize: $so has no ASan checks"; exit 1; }
grep -q __ubsan_handle_ <<<"$syms" || { echo "sanitize: $so has no UBSan checks"; exit 1; }
grep -q debug_info <<<"$sections" || { echo "sanitize: $so has no debug information (stripped?)"; exit 1; }

# 2. A report fails a test run and shows in its log: under exactly the settings the test files get
# (runtimes, options, pytest flags), a deliberate ASan heap overflow (through the interposed memset)
# and a UBSan signed overflow (in a tiny library built with the extension's UB flags) must each end
# pytest with a non-zero status and their report; the extension must load (no report) first.
cat >"$scratch/ub.cpp" <<'CPP'
extern "C" int add_one(int x) { return x + 1; }
CPP
g++ -shared -fPIC -O1 -fsanitize=undefined -fno-sanitize-recover=undefined -o "$scratch/libub.so" "$scratch/ub.cpp"
cat >"$scratch/test_sanitizer_selftest.py" <<'PY'
"""Deliberate sanitizer reports (.ci/sanitize.sh): each test must end the process with its report."""
import ctypes
import os

import numpy as np

import hpc_kernels


def test_extension_runs():
    a = np.arange(1200.0).reshape(40, 30)
    assert np.allclose(hpc_kernels.gemm(a, a.T, backend="cpu"), a @ a.T)


def test_heap_buffer_overflow():
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    p = libc.malloc(16)
    libc.memset(ctypes.c_void_p(p), 0, 17)


def test_signed_overflow():
    ctypes.CDLL(os.path.join(os.path.dirname(__file__), "libub.so")).add_one(2**31 - 1)
PY
selftest() {  # selftest <test> <expected status: 0 or "report"> [<report pattern>]
  local rc=0 out
  out=$(cd "$scratch" && "${asan_env[@]}" python -m pytest "${pytest_opts[@]}" "test_sanitizer_selftest.py::$1" 2>&1) || rc=$?
  if { [ "$2" = 0 ] && [ "$rc" != 0 ]; } || { [ "$2" != 0 ] && { [ "$rc" = 0 ] || ! grep -q "$3" <<<"$out"; }; }; then
    echo "$out" | tail -30
    echo "sanitize: self-test $1 ended with status $rc (expected: $2 ${3:-})"; exit 1
  fi
  echo "sanitize: self-test $1: status $rc${3:+, \"$3\" reported}, as expected"
}
selftest test_extension_runs 0
selftest test_heap_buffer_overflow report "ERROR: AddressSanitizer: heap-buffer-overflow"
selftest test_signed_overflow report "runtime error: signed integer overflow"

# 3. The cpu backend's test files (they call the cpu and reference backends only).
# The int8, bf16 and banded-chain files run at the native cap only: their engine fixtures sweep the
# ISA caps themselves (every int8/bf16 kernel the CPU runs, the band path at each thread count).
FILES=(tests/api/test_gemm.py tests/api/test_matmul.py tests/api/test_conv2d.py tests/api/test_conv2d_plan.py
       tests/csrc/test_ukernels.py tests/api/test_im2col.py tests/api/test_conv2d_broadcast_batch.py
       tests/quant/test_qgemm.py tests/quant/test_qconv2d.py tests/quant/test_qconv_skip.py tests/quant/test_unpacked_b.py tests/quant/test_int8_amx.py
       tests/bf16/test_bf16_gemm.py tests/bf16/test_bf16_conv.py tests/bf16/test_bf16_lower.py tests/bf16/test_bf16_b_filled.py
       tests/backends/cpu/test_conv_band.py tests/backends/cpu/test_chain_program.py)
CAP_FILES=(tests/api/test_conv2d.py tests/api/test_conv2d_plan.py tests/api/test_im2col.py tests/api/test_conv2d_broadcast_batch.py)
CAPS=()
for cap in avx512 avx2 generic; do
  if (cd "$scratch" && "${asan_env[@]}" python -c "import sys; from hpc_kernels import _cpu; i = _cpu.info(); sys.exit(not ('$cap' == 'generic' or ('$cap' in i['isas_built'] and '$cap' in i['isas_supported'])))"); then
    CAPS+=("$cap")
  fi
done
echo "sanitize: ISA caps this CPU runs: ${CAPS[*]}"

failed=()
run_tests() {  # run_tests <cap> <files...>
  local cap=$1 rc=0
  shift
  echo "sanitize: KERNELS_CPU_ISA=$cap: $*"
  time (cd "$scratch" && "${asan_env[@]}" KERNELS_CPU_ISA="$cap" python -m pytest "${pytest_opts[@]}" "${@/#/$root/}") \
    || rc=$?
  echo "sanitize: KERNELS_CPU_ISA=$cap: status $rc"
  [ "$rc" = 0 ] || failed+=("KERNELS_CPU_ISA=$cap $* (status $rc)")
}
for cap in "${CAPS[@]}"; do
  if [ "$cap" = "${CAPS[0]}" ] || [ "$SHORT" = 0 ]; then
    run_tests "$cap" "${FILES[@]}"
  else
    run_tests "$cap" "${CAP_FILES[@]}"
  fi
done
# The hypothesis fuzzer, where present, at its default (quick) profile, once: it runs the cpu
# engine at every ISA itself ("cpu-avx2", "cpu-generic" backends). FUZZ_BACKENDS keeps it to the
# cpu engines and the reference backend (the one their errors are compared with): numba and
# pyopencl/PoCL do run under the preloaded runtimes, but their JIT code is not instrumented, so
# fuzzing them here would only cost compile time.
if [ -f tests/api/test_fuzz.py ]; then
  # (test_fuzz_runner_reports_a_crash is left out here: it checks that .ci/fuzz.sh reports a test
  # process killed by SIGSEGV, and under ASan a segfault is an ASan report and exit status 1 instead;
  # it runs in the normal test run.)
  PYTEST_ADDOPTS="-k 'not test_fuzz_runner_reports_a_crash'" \
    FUZZ_BACKENDS=cpu,cpu-avx512,cpu-avx2,cpu-generic,reference run_tests "${CAPS[0]}" tests/api/test_fuzz.py
fi
deactivate
echo "sanitize: done in $((SECONDS - start)) s; CPU time of the shell, then of all its child processes (user, sys):"
times
if [ ${#failed[@]} -gt 0 ]; then
  printf 'sanitize: failed: %s\n' "${failed[@]}"
  exit 1
fi
