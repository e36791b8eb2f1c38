#!/usr/bin/env bash
# RISC-V: cross-builds the engine test (csrc/tests/) for riscv64 and runs it under qemu-user at each
# vector length given (default 128 256 512 1024 bits): the rvv micro-kernels must be selected and
# pass at every VLEN, a core without V must select generic and pass, and the rvv kernels forced onto
# a core without V must die with SIGILL (so the passes above really ran vector code).
#   bash .ci/riscv.sh [VLEN...]                     CI form: rvv groups per VLEN (~5 min on 2 cores)
#   KERNELS_RISCV_FULL=1 bash .ci/riscv.sh [VLEN...]  full form: every group (rvv and generic) per VLEN
# Two builds: clang >= 16 (the RVV intrinsics; no OpenMP, Debian has no riscv64 libomp:
# cmake/riscv64-clang.cmake) and GCC 12 with OpenMP (generic kernels only: cmake/riscv64-gcc.cmake).
set -euo pipefail
cd "$(dirname "$0")/.."

vlens=("$@")
[ ${#vlens[@]} -gt 0 ] || vlens=(128 256 512 1024)
full="${KERNELS_RISCV_FULL:-0}"
jobs="${KERNELS_NATIVE_JOBS:-$(nproc 2>/dev/null || echo 2)}"

# The tools (Debian/Ubuntu package names), installed only when missing.
need=()
command -v clang++-16 >/dev/null || need+=(clang-16)
command -v ld.lld-16 >/dev/null || need+=(lld-16)
command -v riscv64-linux-gnu-g++ >/dev/null || need+=(g++-riscv64-linux-gnu)
command -v qemu-riscv64-static >/dev/null || need+=(qemu-user-static)
if [ ${#need[@]} -gt 0 ]; then
  echo "== riscv: installing ${need[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -q && $sudo apt-get install -y -q "${need[@]}"
fi
command -v cmake >/dev/null 2>&1 || python3 -m pip install -q cmake

build() {  # build <dir> <toolchain file>
  cmake --no-warn-unused-cli -S . -B "$1" -DCMAKE_TOOLCHAIN_FILE="$2" -DKERNELS_BUILD_PYTHON=OFF -DKERNELS_BUILD_TESTS=ON \
    -DKERNELS_BUILD_BLAS=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$1" --parallel "$jobs" >/dev/null
}
rv="build/ci-riscv-clang"      # rvv + generic, single-threaded
omp="build/ci-riscv-gcc-openmp"  # generic, OpenMP
echo "== riscv: cross builds ($rv, $omp)"
build "$rv" cmake/riscv64-clang.cmake
build "$omp" cmake/riscv64-gcc.cmake

cpu() { echo "rv64,v=true,vlen=$1,elen=64,vext_spec=v1.0"; }
t_all=$SECONDS
# run <log> <expected ISA> <qemu -cpu> <binary> [VAR=value...]: must pass and select that ISA.
run() {
  local log="$1" isa="$2" c="$3" bin="$4" t0=$SECONDS; shift 4
  env GOMP_SPINCOUNT=1000 "$@" qemu-riscv64-static -cpu "$c" "$bin" > "$log" 2>&1 \
    || { tail -30 "$log"; echo "riscv.sh: failed: -cpu $c $*"; exit 1; }
  grep -q "^selected ISA: $isa " "$log" || { head -5 "$log"; echo "riscv.sh: -cpu $c did not select $isa"; exit 1; }
  if grep -q "^FAIL" "$log"; then grep "^FAIL" "$log"; exit 1; fi
  echo "   -cpu $c $*: $(grep '^selected ISA' "$log" | cut -d'(' -f2 | tr -d ')'); $(tail -1 "$log") [$((SECONDS - t0)) s]"
}
rvv_only=(KERNELS_TEST_ISAS=rvv); [ "$full" = 1 ] && rvv_only=()
gen_only=(KERNELS_TEST_ISAS=generic); [ "$full" = 1 ] && gen_only=()

echo "== riscv: rvv under qemu, no OpenMP ($([ "$full" = 1 ] && echo all groups || echo rvv groups))"
for v in "${vlens[@]}"; do run "$rv/vlen$v.log" rvv "$(cpu "$v")" "$rv/kernels_engine_test" "${rvv_only[@]}"; done
# qemu 7.2 sets AT_HWCAP's V bit: the probe's positive answer (a kernel that runs V without
# announcing it) only shows with the bit ignored.
run "$rv/probe.log" rvv "$(cpu 128)" "$rv/kernels_engine_test" KERNELS_RVV_PROBE=1 KERNELS_TEST_ISAS=none KERNELS_TEST_FORCE_ISA=rvv
grep -q "^forced rvv: 2 kernel(s) computed C = A\*B" "$rv/probe.log" || { cat "$rv/probe.log"; echo "riscv.sh: forced rvv kernels wrong"; exit 1; }

echo "== riscv: no V (-cpu rv64): generic selected; rvv forced must die with SIGILL"
run "$rv/novector.log" generic rv64 "$rv/kernels_engine_test" "${gen_only[@]}"
set +e
KERNELS_TEST_ISAS=none KERNELS_TEST_FORCE_ISA=rvv qemu-riscv64-static -cpu rv64 "$rv/kernels_engine_test" > "$rv/forced.log" 2>&1
rc=$?
set -e
grep -q "^forcing ukr_f32_rvv" "$rv/forced.log" || { cat "$rv/forced.log"; echo "riscv.sh: forced run did not reach the rvv kernel"; exit 1; }
[ "$rc" = 132 ] || { cat "$rv/forced.log"; echo "riscv.sh: rvv forced without V exited $rc, expected 132 (SIGILL)"; exit 1; }
echo "   -cpu rv64, rvv forced: SIGILL (exit 132), as it must"

echo "== riscv: GCC build with OpenMP (generic kernels), 2 threads emulated"
run "$omp/openmp.log" generic rv64 "$omp/kernels_engine_test" OMP_NUM_THREADS=2
grep -q "built with OpenMP" "$omp/openmp.log" || { echo "riscv.sh: expected a binary built with OpenMP"; exit 1; }
echo "riscv.sh: all passed ($((SECONDS - t_all)) s of emulated runs)"
