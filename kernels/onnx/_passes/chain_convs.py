"""Chains of FusedConv nodes run as one node (FusedConvChain, HPC_DOMAIN), on the cpu backend with
the pools, relayouts and classifier GEMM around them (CHAINABLE_OPS).

Why: between two convolutions the session runs Python (the node's kernel wrapper, the memory
plan's bookkeeping), and the convolution just run has evicted that code and its objects from the
caches: a reshape that takes 2.5 us alone took 20-50 us inside MobileNetV2, and the Python around
52 convolutions cost about 1 ms of its 5.5 ms. A chain hands every step to one C++ call
(hpc_kernels._cpu.conv2d_chain), which runs them back to back.

A chain is a maximal run of consecutive FusedConv nodes (in the graph's topological order) whose
intermediate values are read only inside the run and are not graph outputs; residuals from
outside the run become inputs of the chain. The sub-nodes keep their names: the profile reports
their times under them (kernels/onnx/ops/chain.py).
"""
from __future__ import annotations

from typing import List

from .._ir import HPC_DOMAIN, Graph, Node
from ..ops.chain import CHAINABLE_OPS, chainable, second_input


def _run_to_node(run: List[Node]) -> Node:
    produced = {n.outputs[0] for n in run}
    inputs: List[str] = []
    for n in run:
        for v in (n.inputs[0], second_input(n)):
            if v and v not in produced and v not in inputs:
                inputs.append(v)
    return Node("FusedConvChain", inputs, [run[-1].outputs[0]], {"nodes": list(run)},
                name=f"{run[0].name or run[0].outputs[0]} .. {run[-1].name or run[-1].outputs[0]}",
                domain=HPC_DOMAIN, layout=run[-1].layout)


def _split(run: List[Node], consumers, outputs) -> List[List[Node]]:
    """run cut into chains whose intermediates are read only inside them, each as long as it can be."""
    pos = {id(n): i for i, n in enumerate(run)}
    escapes, last_user = [], []
    for n in run:
        out = n.outputs[0]
        users = consumers.get(out, [])
        inside = [pos.get(id(u)) for u in users]
        escapes.append(out in outputs or not users or any(p is None for p in inside))
        last_user.append(max((p for p in inside if p is not None), default=-1))
    chains, start = [], 0
    while start < len(run):
        best, reach = start, start
        for i in range(start + 1, len(run)):
            if escapes[i - 1]:  # run[i-1]'s output is read outside: it can only end a chain
                break
            reach = max(reach, last_user[i - 1])
            if reach <= i:  # every intermediate so far is read at or before i
                best = i
        chains.append(run[start:best + 1])
        start = best + 1
    return chains


def chain_convs(graph: Graph, ops: bool = False) -> Graph:
    """The graph with each chain of two or more FusedConv nodes replaced by one node; with ops (the
    cpu backend) the chains take the nodes of CHAINABLE_OPS too."""
    consumers = graph.consumers()
    outputs = set(graph.output_names())
    nodes: List[Node] = []
    run: List[Node] = []

    def flush() -> None:
        for chain in _split(run, consumers, outputs):
            nodes.extend(chain if len(chain) < 2 else [_run_to_node(chain)])
        run.clear()

    constants = set(graph.initializers)
    for n in graph.nodes:
        if chainable(n, ops, constants):
            run.append(n)
        else:
            flush()
            nodes.append(n)
    flush()
    graph.nodes = nodes
    return graph
