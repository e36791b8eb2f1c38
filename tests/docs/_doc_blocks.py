"""The ```python blocks of a Markdown file, with the `## ` section each belongs to and its skip
marker, so that tests/docs/test_doc_blocks.py can run every example the docs show."""
from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

# Written on the line right before a block the test cannot run here, with the reason:
#     <!-- docs: skip (needs an NVIDIA GPU) -->
# Nothing else skips a block, so an example cannot stop running unnoticed.
SKIP = re.compile(r"^\s*<!--\s*docs:\s*skip\s*\((?P<why>[^)]+)\)\s*-->\s*$")
MARKER = re.compile(r"^\s*<!--\s*docs:")  # a line starting a marker (one quoted inside text is prose), to catch one misspelt or misplaced
# An opening fence: ```python, ```bash, ... or a MyST directive (```{toctree}, ```{include} path) of the
# docs/ pages, which is not code and must not be taken for a closing fence.
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w+-]*|\{[\w:-]+\}.*?)\s*$")


@dataclass
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    section: str  # the `## ` heading above it ("" before the first): sections share one namespace
    code: str
    skip: Optional[str]  # the marker's reason, or None: the block runs


def blocks(path: Path) -> List[Block]:
    """Every ```python block of `path` in order. Headings and markers inside any fenced block (a
    bash comment is a `#` line) are not read as such."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    out, section, i = [], "", 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            if lines[i].startswith("## "):
                section = lines[i][3:].strip()
            i += 1
            continue
        start, body = i, []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i])
            i += 1
        i += 1  # past the closing fence
        if m.group("lang") != "python":
            continue
        prev = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        skip = SKIP.match(prev)
        out.append(Block(Path(path), start + 1, section, textwrap.dedent("\n".join(body)) + "\n",
                         skip.group("why").strip() if skip else None))
    return out


def stray_markers(path: Path) -> List[int]:
    """Lines holding a `<!-- docs:` marker that is not a well-formed skip right before a python block."""
    found = {b.line - 1 for b in blocks(path) if b.skip}  # 1-based line numbers of the fences
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    bad = []
    for n, text in enumerate(lines, 1):
        if MARKER.search(text):
            nxt = next((k for k in range(n, len(lines)) if lines[k].strip()), None)  # 0-based index of the next non-blank line
            if not SKIP.match(text) or nxt is None or nxt not in found:
                bad.append(n)
    return bad
