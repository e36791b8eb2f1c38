"""Every ```python block of README.md, CONTRIBUTING.md and the documentation site's pages (docs/*.md)
runs: the blocks of one `## ` section of a file in order, in one namespace (later blocks use the
names earlier ones define), in a temporary folder.
A block that needs what a test machine lacks (a GPU, an OpenCL device, PyCOMPSs, a long run) is
skipped only when the docs mark it so, `<!-- docs: skip (reason) -->` on the line before it."""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pytest

from _doc_blocks import blocks, stray_markers

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md"] + sorted((ROOT / "docs").glob("*.md"))


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()  # docs/contributing.md and CONTRIBUTING.md stay apart


def _sections():
    out = OrderedDict()
    for path in DOCS:
        for b in blocks(path):
            out.setdefault((_name(path), b.section), []).append(b)
    return out


SECTIONS = _sections()


@pytest.mark.parametrize("key", list(SECTIONS), ids=[f"{f}::{s}" for f, s in SECTIONS])
def test_section_examples_run(key, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    namespace = {"__name__": "__main__"}  # as a script: `if __name__ == "__main__":` blocks run
    ran = 0
    for b in SECTIONS[key]:
        if b.skip:
            continue
        exec(compile(b.code, f"{_name(b.path)}:{b.line}", "exec"), namespace)  # noqa: S102 (the repository's own docs)
        ran += 1
    if not ran:
        pytest.skip("every block of the section is marked: " + "; ".join(f"line {b.line}: {b.skip}" for b in SECTIONS[key]))


def test_every_block_runs_or_is_marked():
    """The counts, and that every marker is a well-formed skip right before a python block (a
    misspelt marker would otherwise leave its block running, or a moved one skip nothing)."""
    counts = {}
    for path in DOCS:
        bs = blocks(path)
        assert not stray_markers(path), f"{_name(path)}: malformed or misplaced docs markers at lines {stray_markers(path)}"
        counts[_name(path)] = (sum(b.skip is None for b in bs), sum(b.skip is not None for b in bs))
    print("python blocks run/skipped:", counts)
    # The README's example, CONTRIBUTING's, and the pages that took the README's examples over
    # (first calls, convolution, the Dask script) and the accuracy check run; the PyCOMPSs, opencl
    # and cuda examples are marked (they need PyCOMPSs, an OpenCL device, an NVIDIA GPU).
    for name in ("README.md", "CONTRIBUTING.md", "docs/getting-started.md", "docs/convolution.md",
                 "docs/workflows.md", "docs/accuracy.md"):
        assert counts.get(name, (0, 0))[0] >= 1, (name, counts)
    for name in ("docs/workflows.md", "docs/opencl.md", "docs/cuda.md"):
        assert counts.get(name, (0, 0))[1] >= 1, (name, counts)
