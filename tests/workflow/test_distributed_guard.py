"""hpc_kernels.distributed called from a script's unguarded top level says to guard the script,
before any worker process starts, instead of Dask's "Nanny failed to start" (the spawned workers
re-run the script's top level)."""
from __future__ import annotations

import multiprocessing
import textwrap

import pytest

from _helpers import python_code, run_python

pytest.importorskip("distributed", reason="dask[distributed] (dask extra) not installed")

QUIET = {"SKBUILD_EDITABLE_VERBOSE": "0"}
GUARD = 'if __name__ == "__main__":'


def _script(tmp_path, body: str):
    path = tmp_path / "job.py"
    path.write_text(textwrap.dedent(body))
    return run_python([str(path)], QUIET)


def test_unguarded_script_is_told_to_guard(tmp_path):
    """Before: ~3 s of tracebacks from the workers and the nanny, ending in "Nanny failed to start"."""
    p = _script(tmp_path, """\
        import numpy as np
        import hpc_kernels.distributed as kd
        a = np.ones((64, 64), np.float32)
        print(kd.gemm(a, a)[0, 0])
        """)
    assert p.returncode == 1, p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: hpc_kernels.distributed starts worker processes"), p.stderr
    assert GUARD in last and f"{tmp_path / 'job.py'}:4" in last, last
    assert "Nanny" not in p.stderr, p.stderr  # refused before any worker process started


@pytest.mark.parametrize("body", [
    # the call inside the guarded block, directly or through a function defined at the top level
    """\
    import hpc_kernels.distributed.guard as g
    if __name__ == "__main__":
        g.check_main_guard(); print("ok")
    """,
    """\
    import hpc_kernels.distributed.guard as g
    def main():
        g.check_main_guard(); print("ok")
    if "__main__" == __name__:
        main()
    """,
    # fork: the children do not import __main__ again
    """\
    import dask, hpc_kernels.distributed.guard as g
    dask.config.set({"distributed.worker.multiprocessing-method": "fork"})
    g.check_main_guard(); print("ok")
    """,
], ids=["guarded", "guarded-through-a-function", "fork"])
def test_guarded_or_forking_scripts_pass(tmp_path, body):
    p = _script(tmp_path, body)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr


def test_unguarded_check_names_the_line(tmp_path):
    p = _script(tmp_path, """\
        import hpc_kernels.distributed.guard as g

        def main():
            g.check_main_guard()

        main()
        """)
    assert p.returncode == 1 and f"{tmp_path / 'job.py'}:6" in p.stderr, p.stderr


def test_no_script_no_check():
    """`python -c` (like an interactive session or a notebook) has no script to import again."""
    p = python_code("import hpc_kernels.distributed.guard as g; g.check_main_guard(); print('ok')", QUIET)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr


def test_a_child_reimporting_main_is_refused(monkeypatch):
    """In a spawned child while multiprocessing re-runs __main__ (its `_inheriting` phase), the
    check refuses too: the fallback where the parent's source check could not decide."""
    from hpc_kernels.distributed.guard import check_main_guard

    monkeypatch.setattr(multiprocessing.current_process(), "_inheriting", True, raising=False)
    with pytest.raises(RuntimeError, match="re-ran the unguarded call"):
        check_main_guard()
