"""`python -m hpc_kernels bench --compare`: ratios between two runs, regressions of ours flagged (exit 1), bad input exits 2."""
from __future__ import annotations

import pytest

from _bench_data import gemm, meta, records
from hpc_kernels.__main__ import main
from hpc_kernels.bench import compare, record


def _write(tmp_path, name, recs):
    path = str(tmp_path / name)
    record.dump(path, record.document(meta(), recs))
    return path


def test_same_run_has_no_regression(tmp_path, capsys):
    old = _write(tmp_path, "old.json", records())
    assert main(["bench", "--compare", old, old]) == 0
    out = capsys.readouterr().out
    assert "0 regression(s)" in out and "REGRESSION" not in out


def test_slower_backend_is_flagged(tmp_path, capsys):
    old = _write(tmp_path, "old.json", records())
    new = _write(tmp_path, "new.json", records(scale=0.8))  # ours 20% slower, references unchanged
    assert main(["bench", "--compare", old, new]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION" in out and " 0.80" in out
    # within a 25% tolerance the same runs pass
    assert main(["bench", "--compare", old, new, "--tolerance", "0.25"]) == 0


def test_reference_change_not_flagged_and_broken_result_is():
    old = record.document(meta(), [gemm("cpu", "cpu", 64, 100.0), gemm("cpu", "numpy", 64, 100.0)])
    new = record.document(meta(), [gemm("cpu", "cpu", 64, 100.0, correct=False), gemm("cpu", "numpy", 64, 50.0)])
    c = compare.compare(old, new)
    by = {x["key"][-1]: x for x in c["rows"]}
    assert by["numpy"]["ratio"] == pytest.approx(0.5) and not by["numpy"]["regression"]
    assert by["cpu"]["regression"] and by["cpu"]["broke"]


def test_unmatched_measurements_counted():
    old = record.document(meta(), [gemm("cpu", "cpu", 64, 100.0), gemm("cpu", "cpu", 128, 100.0)])
    new = record.document(meta(), [gemm("cpu", "cpu", 64, 100.0, threads=1), gemm("cpu", "cpu", 64, 100.0, threads=2)])
    c = compare.compare(old, new)
    assert len(c["rows"]) == 1 and c["only_old"] == 1 and c["only_new"] == 1


def test_bad_files_exit_2_with_a_message(tmp_path, capsys):
    old = _write(tmp_path, "old.json", records())
    assert main(["bench", "--compare", old, str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err
    other = _write(tmp_path, "other.json", [gemm("opencl", "opencl", 512, 10.0)])
    assert main(["bench", "--compare", old, other]) == 2
    assert "no measurement in common" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["bench", "--compare", "a.json"], ["bench", "--tolerance", "2", "--compare", "a", "b"],
                                  ["bench", "--threads", "0"], ["bench", "gemm", "--quick", "--full"]])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and "usage" in capsys.readouterr().err
