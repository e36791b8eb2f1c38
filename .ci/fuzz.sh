#!/usr/bin/env bash
# The long fuzz run: every property-based fuzz test of tests/api/test_fuzz.py, the int8
# convolution's (tests/quant/test_qfuzz.py), the bf16 GEMM's and convolution's (tests/bf16/test_bf16_fuzz.py, test_bf16_conv_fuzz.py), each in its own process
# (`python -X faulthandler -m pytest tests/api/test_fuzz.py::<test> --hypothesis-profile=ci
# --hypothesis-seed=<seed>`), so that a crash (a signal) cannot lose the run: it is reported as a
# failure with the example that caused it (the tests log each call to FUZZ_LOG before making it),
# and the test is rerun past it (FUZZ_CRASHERS lists the calls not to make again).
#
# Run it in the environment where hpc-kernels and its test extra are installed (.ci/run's venv):
#   .ci/fuzz.sh                        # the CI form: profile "ci", FUZZ_EXAMPLES=500 per test: 9.6 min wall,
#                                      # 3.6 min CPU on the shared 2-core dev machine (with today's failures shrunk)
#   FUZZ_EXAMPLES=2000 .ci/fuzz.sh     # more examples per test
#   FUZZ_PROFILE=long .ci/fuzz.sh      # the full form: profile "long", 5000 examples per test (FUZZ_EXAMPLES overrides)
#   FUZZ_SEED=7 .ci/fuzz.sh            # other examples (the default seed is fixed: runs are reproducible)
#   FUZZ_TESTS="test_fuzz_gemm" FUZZ_BACKENDS=cpu,reference .ci/fuzz.sh   # a subset
# Other knobs: FUZZ_TIMEOUT (seconds per test process, default 1800: a hang is reported with its
# example), FUZZ_MAX_CRASHES (reruns past crashes per test, default 5), FUZZ_OUT (a directory kept
# with each test's log and output; default a temporary one).
# FUZZ_SURVEY=1: survey mode. A failing example does not stop a test (hypothesis would stop and
# shrink it, reporting a few failures per test): every failure of every example is recorded, and
# the summary lists each distinct one (kind[backend] per operation) with its shortest example.
# A failure prints hypothesis' minimal example; `replay(<case>)` in tests/api/_fuzz_strategies.py
# reruns any logged case: cd tests && python -c "import sys; sys.path[:0] = ['.', 'api']; from _fuzz_strategies import *; replay(<case>)".
set -euo pipefail
cd "$(dirname "$0")/.."

exec python - "$@" <<'PY'
import collections, json, os, re, signal, subprocess, sys, tempfile, time

profile = os.environ.get("FUZZ_PROFILE", "ci")
seed = os.environ.get("FUZZ_SEED", "20251204")
# A name with "::" is a pytest node id of its own (its calls are not logged: a crash there is
# reported without the call it was making); a bare name is one of tests/api/test_fuzz.py's.
tests = os.environ.get("FUZZ_TESTS", "test_fuzz_seed_cases test_fuzz_gemm test_fuzz_gemm_opencl_device test_fuzz_matmul test_fuzz_conv2d test_fuzz_conv2d_plan test_fuzz_im2col test_fuzz_array_likes tests/quant/test_qfuzz.py::test_qconv2d_cpu_equals_reference tests/bf16/test_bf16_fuzz.py::test_bf16_gemm_within_bound_and_inside_out tests/bf16/test_bf16_conv_fuzz.py::test_bf16_conv2d_exact_through_views tests/onnx/test_chain_ops.py::test_fuzz_pool_and_relayout_steps tests/onnx/test_chain_ops.py::test_fuzz_gemm_step tests/backends/cpu/test_chain_program.py::test_fuzz_program_runs_equal_conv2d_chain").split()
timeout = float(os.environ.get("FUZZ_TIMEOUT", "1800"))
max_crashes = int(os.environ.get("FUZZ_MAX_CRASHES", "5"))
survey = os.environ.get("FUZZ_SURVEY", "") not in ("", "0")
out_dir = os.environ.get("FUZZ_OUT") or tempfile.mkdtemp(prefix="fuzz-")
os.makedirs(out_dir, exist_ok=True)
print(f"fuzz: profile {profile}, seed {seed}, examples/test {os.environ.get('FUZZ_EXAMPLES', 'profile default')}, logs in {out_dir}", flush=True)


def last_call(log):
    """The call a dead process was making: the last line its test logged."""
    try:
        with open(log) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return None
    return lines[-1] if lines else None


results, crashes = {}, []
t_all = time.perf_counter()
def tag(test):
    """The test's name for its log files."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", test)


for test in tests:
    crashers = os.path.join(out_dir, f"{tag(test)}.crashers")
    open(crashers, "w").close()
    survey_file = os.path.join(out_dir, f"{tag(test)}.survey.jsonl")
    open(survey_file, "w").close()
    for attempt in range(max_crashes + 1):
        log, out = os.path.join(out_dir, f"{tag(test)}.log"), os.path.join(out_dir, f"{tag(test)}.out")
        open(log, "w").close()
        env = dict(os.environ, FUZZ_LOG=log, FUZZ_CRASHERS=crashers)
        env.pop("FUZZ_SURVEY", None)
        if survey:
            env["FUZZ_SURVEY"] = survey_file
        cmd = [sys.executable, "-X", "faulthandler", "-m", "pytest", test if "::" in test else f"tests/api/test_fuzz.py::{test}", "-q", "-p", "no:cacheprovider",
               f"--hypothesis-profile={profile}", f"--hypothesis-seed={seed}", "--hypothesis-show-statistics"]
        t0 = time.perf_counter()
        with open(out, "w") as f:
            try:
                rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, timeout=timeout).returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
        dt = time.perf_counter() - t0
        text = open(out).read()
        if rc == "timeout" or (isinstance(rc, int) and rc < 0):
            why = "hung (timeout)" if rc == "timeout" else f"killed by {signal.Signals(-rc).name}"
            call = last_call(log)
            crashes.append((test, why, call))
            print(f"\nCRASH {test}: {why} after {dt:.0f} s; the call it was making:\n  {call}", flush=True)
            if call:
                op, backend, case = call.split("\t", 2)
                print(f"  reproduce: cd tests && python -X faulthandler -c \"from _fuzz_strategies import *; replay({case}, backends=['{backend}'])\"")
                with open(crashers, "a") as f:
                    f.write(call + "\n")
            tail = text[-3000:]
            print("  last output:\n    " + "\n    ".join(tail.splitlines()[-25:]), flush=True)
            if call and attempt < max_crashes:
                print(f"  rerunning {test} past this call ({attempt + 1}/{max_crashes})", flush=True)
                continue
            results[test] = f"CRASH ({why})"
            break
        status = {0: "passed", 1: "FAILED"}.get(rc, f"ERROR (pytest exit {rc})")
        results[test] = status + (f" after {len(crashes)} crash(es)" if any(c[0] == test for c in crashes) else "")
        print(f"\n{test}: {status} in {dt:.0f} s", flush=True)
        if rc != 0:
            print(text[-20000:], flush=True)
        else:
            stats = [l for l in text.splitlines() if "passing examples" in l or "Stopped because" in l]
            print("  " + "\n  ".join(stats), flush=True)
        break

print(f"\nfuzz summary ({time.perf_counter() - t_all:.0f} s):")
for test in tests:
    print(f"  {test}: {results.get(test, 'not run')}")
for test, why, call in crashes:
    print(f"  crash in {test}: {why}: {call}")
found = collections.defaultdict(list)
if survey:
    for test in tests:
        with open(os.path.join(out_dir, f"{tag(test)}.survey.jsonl")) as f:
            for line in f:
                r = json.loads(line)
                # one group per operation, failure kind and message with its numbers blanked
                found[(r["op"], r["failure"], re.sub(r"\d+(\.\d*)?(e[-+]?\d+)?", "#", r["message"])[:160])].append(r)
    print(f"\nsurvey: {len(found)} distinct failure(s) (operation, kind[backend]: examples, the shortest):")
    for (op, kind, _), rs in sorted(found.items()):
        r = min(rs, key=lambda r: len(r["case"]))
        print(f"  {op} {kind}: {len(rs)}\n    {r['message'][:300]}\n    {r['case']}")
bad = crashes or found or any(not r.startswith("passed") for r in results.values())
sys.exit(1 if bad else 0)
PY
