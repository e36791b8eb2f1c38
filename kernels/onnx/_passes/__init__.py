"""Compile passes that rewrite a loaded Graph before it runs (batch-norm folding, fusions, layout).

This is the entry point the session calls after constant folding; in this branch it is the
identity, the passes are written separately against the same Graph/Node contract."""
from __future__ import annotations

from typing import Optional

from .._ir import Graph


def compile_graph(graph: Graph, *, backend: Optional[str], layout: str) -> Graph:
    """The graph to run for this backend and layout ("auto", "NCHW" or "NHWC")."""
    return graph
