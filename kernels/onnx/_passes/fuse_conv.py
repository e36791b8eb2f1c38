"""Pass: Conv (+ its folded BN) + a following activation, or a residual Add and the activation
after it, become one `FusedConv` node in HPC_DOMAIN.

Why: hpc_kernels.Conv2d applies bias, relu/relu6 and (with the `residual` branch) a residual
add in the GEMM's epilogue while the output tile is still in registers/cache, so each absorbed
elementwise op saves a full read+write of the activation and a kernel call (ResNet's
Conv->Add->Relu, MobileNet's Conv->Clip(0,6) and its residual Add without an activation).

FusedConv: inputs [X, W, B or "", residual (optional)], attrs of Conv (auto_pad, dilations,
group, kernel_shape, pads, strides) plus `activation` ("", "relu", "relu6"): y = act(conv(X, W)
+ B + residual). The activations are those conv2d's epilogue supports (kernels/_api/conv_args.py
ACTIVATIONS): Relu, Clip(0, 6) -> relu6, and Clip(0, +inf) / Clip(min=0 only) -> relu.

Fused only where exact: 2-D convs (4-D W) with constant float32/float64 W (and constant B when
given), since the kernel packs them once at load; each absorbed value has no other reader (no
other node, not a graph output); Add only before any activation (the epilogue adds the residual
before the activation); Clip only with constant bounds. The residual operand may broadcast
(the kernel then adds it with NumPy), it just has to be the other input of that Add.
Not handled: activations other than relu/relu6 (LeakyRelu, HardSwish, Sigmoid: not in conv2d's
epilogue), an Add of two values neither of which a fusable conv produces, Conv whose W is
computed at run time or that has an attribute FusedConv does not know (stays a plain Conv),
1-D/3-D convolutions. Gemm is fuse_gemm.py's.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional

import numpy as np

from .._ir import HPC_DOMAIN, Graph, Node
from ._util import constant, single_consumer, use_counts

_CONV_ATTRS = ("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides")
_WEIGHT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def fuse_conv(graph: Graph) -> Graph:
    counts, consumers = use_counts(graph), graph.consumers()
    position = {id(n): i for i, n in enumerate(graph.nodes)}
    replace: Dict[int, Optional[Node]] = {}  # id(old node) -> node put in its place (None: dropped)
    for conv in list(graph.nodes):
        if id(conv) in replace or not _fusable_conv(graph, conv):
            continue
        chain: List[Node] = [conv]
        activation, residual = "", ""
        out = conv.outputs[0]
        nxt = _next(graph, out, counts, consumers, replace)
        if nxt is not None and nxt.op_type == "Add" and len(nxt.inputs) == 2 and nxt.domain == "":
            other = nxt.inputs[1] if nxt.inputs[0] == out else nxt.inputs[0]
            if other != out:  # Add(y, y) is 2y, not a residual
                residual = other
                chain.append(nxt)
                out = nxt.outputs[0]
                nxt = _next(graph, out, counts, consumers, replace)
        if nxt is not None:
            act = _activation(graph, nxt)
            if act is not None:
                activation = act
                chain.append(nxt)
                out = nxt.outputs[0]
        fused = Node(
            "FusedConv",
            [conv.inputs[0], conv.inputs[1], conv.inputs[2] if len(conv.inputs) > 2 else ""] + ([residual] if residual else []),
            [out],
            {k: v for k, v in conv.attrs.items() if k in _CONV_ATTRS},
            name=conv.name or out,
            domain=HPC_DOMAIN,
        )
        fused.attrs["activation"] = activation
        # The fused node runs where the last absorbed node ran: every input (X before the conv,
        # the residual before the Add) is ready there, and the absorbed values had no other reader.
        last = max(chain, key=lambda n: position[id(n)])
        for n in chain:
            replace[id(n)] = fused if n is last else None
    if replace:
        graph.nodes = [replace.get(id(n), n) for n in graph.nodes if replace.get(id(n), n) is not None]
    return graph


def _fusable_conv(graph: Graph, n: Node) -> bool:
    if n.op_type != "Conv" or n.domain != "" or len(n.outputs) != 1 or len(n.inputs) < 2:
        return False
    if not set(n.attrs) <= set(_CONV_ATTRS):
        return False  # an attribute FusedConv would drop: the Conv's own builder reports it
    w = constant(graph, n.inputs[1])
    if w is None or w.ndim != 4 or w.dtype not in _WEIGHT_DTYPES:
        return False
    if len(n.inputs) > 2 and n.inputs[2]:
        b = constant(graph, n.inputs[2])
        if b is None or b.dtype != w.dtype or b.shape != (w.shape[0],):
            return False
    return True


def _next(graph: Graph, value: str, counts, consumers, replace) -> Optional[Node]:
    n = single_consumer(graph, value, counts, consumers)
    return None if n is None or id(n) in replace else n


def _activation(graph: Graph, n: Node) -> Optional[str]:
    """"relu"/"relu6" when n is an activation the conv epilogue computes exactly, else None."""
    if n.domain != "" or len([o for o in n.outputs if o]) != 1 or not set(n.attrs) <= {"min", "max"}:
        return None  # an attribute the epilogue would ignore: left to the op's own builder
    if n.op_type == "Relu" and not n.attrs:
        return "relu"
    if n.op_type != "Clip":
        return None
    if "min" in n.attrs or "max" in n.attrs or len(n.inputs) == 1:  # opset < 11: attributes
        lo, hi = float(n.attr("min", -math.inf)), float(n.attr("max", math.inf))
    else:
        bounds = []
        for name in (n.inputs[1:3] + ["", ""])[:2]:
            if not name:
                bounds.append(None)
                continue
            c = constant(graph, name)
            if c is None or c.size != 1:
                return None  # run-time bounds: not known at load
            bounds.append(float(c.reshape(())))
        lo = -math.inf if bounds[0] is None else bounds[0]
        hi = math.inf if bounds[1] is None else bounds[1]
    if lo == 0.0 and hi == 6.0:
        return "relu6"
    if lo == 0.0 and hi == math.inf:
        return "relu"
    return None
