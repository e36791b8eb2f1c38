"""The environment variables table of the docs (docs/environment.md) names exactly the variables of
kernels/_config.py's ENV_VARS, the ones `python -m hpc_kernels info` lists: a variable added to the
code without a row, or a row left after its variable went, fails here."""
from __future__ import annotations

import re
from pathlib import Path

from hpc_kernels._config import ENV_VARS

PAGE = Path(__file__).resolve().parents[2] / "docs" / "environment.md"


def table_variables(text: str) -> list:
    """The `KERNELS_*` names in the first column of the page's first table (one row may name several)."""
    names, in_table = [], False
    for line in text.splitlines():
        if line.startswith("|"):
            in_table = True
            first = line.split("|")[1]
            names += re.findall(r"`(KERNELS_[A-Z0-9_]+)`", first)
        elif in_table:
            break  # the end of the first table
    return names


def test_table_names_every_variable_once():
    names = table_variables(PAGE.read_text(encoding="utf-8"))
    assert len(names) == len(set(names)), f"a variable has two rows: {sorted(names)}"
    assert set(names) == set(ENV_VARS), (
        f"missing from {PAGE.name}: {sorted(set(ENV_VARS) - set(names))}; "
        f"not in ENV_VARS: {sorted(set(names) - set(ENV_VARS))}")
