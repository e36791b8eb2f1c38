"""Refuse to start worker processes from a script's unguarded top level, with an error that says to
guard it, instead of Dask's "Nanny failed to start".

Dask starts worker processes with multiprocessing's "spawn" method (its default; "forkserver" too),
which runs the parent's `__main__` module again in each child. A script that calls
hpc_kernels.distributed at its top level, outside `if __name__ == "__main__":`, then starts a
cluster again inside every child while it is still starting up: the child fails, and the parent
only reports that a Nanny failed to start (after a timeout), never why."""
from __future__ import annotations

import ast
import multiprocessing
import sys
from typing import Optional

MESSAGE = ("hpc_kernels.distributed starts worker processes, which import this script's __main__ module again "
           "(multiprocessing's '{method}' start method): put the code that runs it under "
           "`if __name__ == \"__main__\":` ({where})")


def start_method() -> str:
    """How Dask's Nanny starts worker processes (its config, default "spawn")."""
    import dask

    return dask.config.get("distributed.worker.multiprocessing-method", "spawn")


def check_main_guard() -> None:
    """Raise RuntimeError if starting worker processes now would re-run the caller's script in them."""
    method = start_method()
    if method == "fork":  # a forked child does not import __main__ again
        return
    # In a child, while multiprocessing re-imports __main__ (before the child's own work starts):
    # reached only through an unguarded call; say so here too, in case the parent's check missed it.
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise RuntimeError(MESSAGE.format(method=method, where="a worker process re-ran the unguarded call"))
    where = _unguarded_call_site()
    if where:
        raise RuntimeError(MESSAGE.format(method=method, where=where))


def _unguarded_call_site() -> Optional[str]:
    """'path:line' of the statement of the `__main__` script's top level (a module-level frame of
    `__main__`) that led here, if it is not inside an `if __name__ == "__main__":` block; else None.
    No script file (an interactive session, `python -c`, a notebook): None, nothing is re-imported."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path:
        return None
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals is main.__dict__ and frame.f_code.co_name == "<module>":
            break
        frame = frame.f_back
    if frame is None:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, ValueError):
        return None  # the source cannot be read: no verdict (the child-side check still applies)
    line = frame.f_lineno
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_main_test(node.test) and node.lineno <= line <= (node.end_lineno or line):
            return None
    return f"{path}:{line}"


def _is_main_test(test: ast.expr) -> bool:
    """`__name__ == "__main__"` (either way round)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s.id for s in sides if isinstance(s, ast.Name)]
    consts = [s.value for s in sides if isinstance(s, ast.Constant)]
    return names == ["__name__"] and consts == ["__main__"]
