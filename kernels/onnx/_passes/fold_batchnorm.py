"""Pass: a BatchNormalization right after a Conv is folded into the conv's weights and bias.

Why: at inference BN is a per-channel affine map, y = gamma*(x-mean)/sqrt(var+eps) + beta, so
Conv->BN equals one Conv with w' = w*s (s = gamma/sqrt(var+eps) per output channel) and
b' = (b-mean)*s + beta. That removes one full pass over the activation per layer (ResNet-50
has 53 of them). The arithmetic is done in float64 and cast back once, so the folded weights
are as close to the original two-step result as the model's dtype allows.

Folded only when it is exact to do so: the conv's output has no other reader (no other node,
not a graph output), the conv's weights and bias and all four BN parameters are constants, BN
is in inference mode (one output, training_mode 0) and the per-channel vectors have K entries.
Any other BN stays as it is (the layout pass may turn it into a per-channel scale/shift).
"""
from __future__ import annotations

import numpy as np

from .._ir import Graph, Node
from ._util import Names, constant, drop_unused_initializers, single_consumer, use_counts

_FLOATS = (np.float16, np.float32, np.float64)
# What inference-mode folding honours (momentum only matters in training; is_test/spatial: old opsets).
BN_ATTRS = {"epsilon", "momentum", "training_mode", "spatial", "is_test"}


def fold_batchnorm(graph: Graph) -> Graph:
    names = Names(graph)
    counts, consumers = use_counts(graph), graph.consumers()
    removed = set()
    for conv in graph.nodes:
        if conv.op_type != "Conv" or conv.domain != "" or len(conv.outputs) != 1:
            continue
        bn = single_consumer(graph, conv.outputs[0], counts, consumers)
        if bn is None or bn.op_type != "BatchNormalization" or bn.domain != "" or bn.inputs[0] != conv.outputs[0]:
            continue
        if _fold(graph, conv, bn, names):
            removed.add(id(bn))
    if removed:
        graph.nodes = [n for n in graph.nodes if id(n) not in removed]
        drop_unused_initializers(graph)
    return graph


def _fold(graph: Graph, conv: Node, bn: Node, names: Names) -> bool:
    # Inference mode only: training_mode (opset 14+) or the running-stat outputs (older opsets)
    # make BN update statistics, which no folding can express.
    if int(bn.attr("training_mode", 0)) != 0 or len([o for o in bn.outputs if o]) != 1 or len(bn.inputs) < 5:
        return False
    if not set(bn.attrs) <= BN_ATTRS or int(bn.attr("spatial", 1)) != 1:
        return False  # an attribute folding would ignore: BN's own builder reports or runs it
    w = constant(graph, conv.inputs[1]) if len(conv.inputs) > 1 else None
    b = constant(graph, conv.inputs[2]) if len(conv.inputs) > 2 and conv.inputs[2] else None
    if w is None or w.ndim < 3 or w.dtype.type not in _FLOATS:
        return False
    if len(conv.inputs) > 2 and conv.inputs[2] and b is None:
        return False  # a bias computed at run time: not foldable at load
    params = [constant(graph, n) for n in bn.inputs[1:5]]
    if any(p is None for p in params):
        return False
    k = w.shape[0]
    gamma, beta, mean, var = (np.asarray(p, np.float64).reshape(-1) for p in params)
    if any(p.shape != (k,) for p in (gamma, beta, mean, var)) or (b is not None and b.shape != (k,)):
        return False
    eps = float(bn.attr("epsilon", 1e-5))
    s = gamma / np.sqrt(var + eps)
    w2 = (w.astype(np.float64) * s.reshape((k,) + (1,) * (w.ndim - 1))).astype(w.dtype)
    b0 = np.zeros(k) if b is None else b.astype(np.float64)
    b2 = ((b0 - mean) * s + beta).astype(w.dtype)
    # New names: the old weights may be shared with another node that still needs them.
    wn, bname = names.fresh(conv.inputs[1] + "_bnfold"), names.fresh((conv.name or conv.outputs[0]) + "_bnfold_bias")
    graph.initializers[wn], graph.initializers[bname] = w2, b2
    conv.inputs = [conv.inputs[0], wn, bname]
    conv.outputs = [bn.outputs[0]]  # the conv now produces what BN produced
    return True
