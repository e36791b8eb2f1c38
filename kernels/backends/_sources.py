"""Device kernel sources (backends/<kind>/*): read from the repository in editable installs, else from the wheel's package data."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2] / "backends"


def read(kind: str, name: str) -> str:
    """The text of backends/<kind>/<name> (kind: "opencl", "cuda"). The repository's copy first,
    so an editable install sees edits at once; an installed wheel has no such folder and reads
    kernels/_sources/<kind>/<name> with importlib.resources."""
    repo = _REPO / kind
    if repo.is_dir():
        return (repo / name).read_text()
    return resources.files("hpc_kernels").joinpath("_sources", kind, name).read_text()
