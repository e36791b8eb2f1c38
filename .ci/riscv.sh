#!/usr/bin/env bash
# RISC-V: cross-builds the engine test (csrc/tests/) for riscv64 and runs it under qemu-user at each
# vector length given (default: 128 and 1024 bits, the smallest and largest vector, in the CI form;
# 128 256 512 1024 in the full form): the rvv micro-kernels must be selected and pass at every VLEN
# with OpenMP threads, a core without V must select generic and pass, and the rvv kernels forced onto
# a core without V must die with SIGILL (so the passes above really ran vector code).
#   bash .ci/riscv.sh [VLEN...]                     CI form: rvv groups per VLEN (2-15 min: qemu's speed
#                                                   differs 5x between the project's machines)
#   KERNELS_RISCV_FULL=1 bash .ci/riscv.sh [VLEN...]  full form: every group (rvv and generic) per VLEN
# Two builds: the mixed one (cmake/riscv64-gcc-clang-rvv.cmake: GCC 12 with OpenMP through libgomp,
# csrc/arch/rvv/ compiled by clang-16, which has the RVV intrinsics GCC 12 lacks), run at every VLEN
# and without V; and clang-16 alone (cmake/riscv64-clang.cmake: no OpenMP, Debian has no riscv64
# libomp), the single-threaded engine, run at the first VLEN (CI form) or every VLEN (full form).
set -euo pipefail
cd "$(dirname "$0")/.."

vlens=("$@")
full="${KERNELS_RISCV_FULL:-0}"
# VLEN 256 and 512 only in the full form: every one passed in CI until an Intel host ran qemu at
# 200 s per VLEN (27 s on Zen 5); 128 and 1024 keep the tail handling and the widest MR. 1024 first:
# the clang-only build runs at the first VLEN, where qemu was fastest (40 s against 320 s at 128).
[ ${#vlens[@]} -gt 0 ] || { if [ "$full" = 1 ]; then vlens=(128 256 512 1024); else vlens=(1024 128); fi; }
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
omp="build/ci-riscv-gcc-clang-rvv"  # rvv (clang) + generic (GCC), OpenMP (libgomp)
rv="build/ci-riscv-clang"           # rvv + generic, all clang, single-threaded
echo "== riscv: cross builds ($omp, $rv)"
build "$omp" cmake/riscv64-gcc-clang-rvv.cmake
build "$rv" cmake/riscv64-clang.cmake

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

# threaded <log>: the binary was built with OpenMP and a team of 7 (the most the cases ask for) ran
# on 7 OS threads, so the 2-, 3- and 7-thread cases really split the work.
threaded() {
  grep -q "^kernels_engine_test: built with OpenMP" "$1" || { head -3 "$1"; echo "riscv.sh: $1: not built with OpenMP"; exit 1; }
  grep -q "^OpenMP team: 7 threads asked, 7 in the team, 7 distinct OS threads" "$1" \
    || { head -3 "$1"; echo "riscv.sh: $1: the OpenMP team did not run on 7 threads"; exit 1; }
}

echo "== riscv: rvv with OpenMP under qemu ($([ "$full" = 1 ] && echo all groups || echo rvv groups))"
for v in "${vlens[@]}"; do
  run "$omp/vlen$v.log" rvv "$(cpu "$v")" "$omp/kernels_engine_test" "${rvv_only[@]}"
  threaded "$omp/vlen$v.log"
done

# The clang-only build: the same rvv code, the single-threaded engine.
no_omp_vlens=("${vlens[0]}"); [ "$full" = 1 ] && no_omp_vlens=("${vlens[@]}")
echo "== riscv: clang build without OpenMP, VLEN ${no_omp_vlens[*]} ($([ "$full" = 1 ] && echo all groups || echo rvv groups))"
for v in "${no_omp_vlens[@]}"; do
  run "$rv/vlen$v.log" rvv "$(cpu "$v")" "$rv/kernels_engine_test" "${rvv_only[@]}"
  grep -q "^kernels_engine_test: built without OpenMP" "$rv/vlen$v.log" || { echo "riscv.sh: expected the clang build without OpenMP"; exit 1; }
done
# qemu 7.2 sets AT_HWCAP's V bit: the probe's positive answer (a kernel that runs V without
# announcing it) only shows with the bit ignored.
for b in "$omp" "$rv"; do
  run "$b/probe.log" rvv "$(cpu 128)" "$b/kernels_engine_test" KERNELS_RVV_PROBE=1 KERNELS_TEST_ISAS=none KERNELS_TEST_FORCE_ISA=rvv
  grep -q "^forced rvv: 2 kernel(s) computed C = A\*B" "$b/probe.log" || { cat "$b/probe.log"; echo "riscv.sh: $b: forced rvv kernels wrong"; exit 1; }
done

echo "== riscv: no V (-cpu rv64): generic selected (OpenMP build); rvv forced must die with SIGILL (both builds)"
run "$omp/novector.log" generic rv64 "$omp/kernels_engine_test" "${gen_only[@]}"
threaded "$omp/novector.log"
if [ "$full" = 1 ]; then run "$rv/novector.log" generic rv64 "$rv/kernels_engine_test"; fi
for b in "$omp" "$rv"; do
  set +e
  KERNELS_TEST_ISAS=none KERNELS_TEST_FORCE_ISA=rvv qemu-riscv64-static -cpu rv64 "$b/kernels_engine_test" > "$b/forced.log" 2>&1
  rc=$?
  set -e
  grep -q "^forcing ukr_f32_rvv" "$b/forced.log" || { cat "$b/forced.log"; echo "riscv.sh: $b: forced run did not reach the rvv kernel"; exit 1; }
  [ "$rc" = 132 ] || { cat "$b/forced.log"; echo "riscv.sh: $b: rvv forced without V exited $rc, expected 132 (SIGILL)"; exit 1; }
  echo "   $b, -cpu rv64, rvv forced: SIGILL (exit 132), as it must"
done
echo "riscv.sh: all passed ($((SECONDS - t_all)) s of emulated runs, $SECONDS s in all)"
