"""`python -m hpc_kernels demo --quick` runs end to end, and what it says about where the distributed
Gram matrix ran matches what its task stream measured: workers that ran no block product are
called idle (the README once claimed "over both workers" for a run whose 8 products, one chain over
k, all ran on one worker)."""
from __future__ import annotations

import re

import pytest

from _helpers import run_python

pytest.importorskip("distributed", reason="dask[distributed] (demo extra) not installed")
pytest.importorskip("jsonschema", reason="jsonschema (demo extra) not installed")


def test_quick_demo_reports_where_the_gram_blocks_ran():
    p = run_python(["-m", "hpc_kernels", "demo", "--quick"], {"SKBUILD_EDITABLE_VERBOSE": "0"}, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    line = next(ln for ln in p.stdout.splitlines() if ln.strip().startswith("[analytics] Gram matrix"))
    m = re.search(r"(\d+) block products in (\d+) chain\(s\) over k, (.*)$", line)
    assert m, line
    products, chains, rest = int(m.group(1)), int(m.group(2)), m.group(3)
    counts = [int(c) for c in re.findall(r"(\d+) on tcp://", rest)]
    assert sum(counts) == products and chains >= 1, line
    idle = 2 - len(counts)
    assert (f"({idle} of 2 workers idle)" in rest) == (idle > 0), line
    assert "FAIL" not in p.stdout, p.stdout
