"""GlobalAveragePool or QGlobalAveragePool [-> ToNCHW] -> Flatten(axis=1) as one node: the pool writes the (N, C) matrix the
classifier reads (a 1x1 map is the same memory in NCHW and NHWC, so neither the transpose nor the
reshape moves data). Why a pass: the two nodes cost only Python, but Python that runs right after
the convolutions finds its code evicted from the caches (70 us of MobileNetV2's tail, against 9 us
for onnxruntime's Flatten and pool). Run by the session on the cpu backend (kernels/onnx/_session.py).
"""
from __future__ import annotations

from typing import List

from .._ir import HPC_DOMAIN, Graph, Node


# The pools that write their (N, C) matrix with flatten=1: the float one (ops/nhwc.py) and the
# 8-bit one of a quantized model (ops/qadd_pool.py).
_POOLS = ("GlobalAveragePool", "QGlobalAveragePool")


def fuse_pool_flatten(graph: Graph) -> Graph:
    consumers = graph.consumers()
    outputs = set(graph.output_names())

    def only_reader(value: str, op_type: str, domain: str):
        users = consumers.get(value, [])
        if value in outputs or len(users) != 1 or users[0].op_type != op_type or users[0].domain != domain:
            return None
        return users[0]

    gone = set()
    nodes: List[Node] = []
    for n in graph.nodes:
        if id(n) in gone:
            continue
        if n.op_type in _POOLS and n.domain == HPC_DOMAIN and not n.attrs.get("flatten"):
            to_nchw = only_reader(n.outputs[0], "ToNCHW", HPC_DOMAIN)
            flat = only_reader((to_nchw or n).outputs[0], "Flatten", "")
            if flat is not None and int(flat.attr("axis", 1)) == 1:
                nodes.append(Node(n.op_type, list(n.inputs), [flat.outputs[0]], dict(n.attrs, flatten=1),
                                  name=n.name, domain=n.domain, layout=n.layout))
                gone.update(id(m) for m in (to_nchw, flat) if m is not None)
                continue
        nodes.append(n)
    graph.nodes = nodes
    return graph
