"""The compile step: graph-to-graph passes run after loading and constant folding.

`compile_graph(graph, backend=..., layout=...)` runs, in this order (each pass keeps the graph's
semantics and needs the previous one's result):
  0. fuse_qdq: DQ -> Conv/MatMul/Gemm [-> Add] [-> Relu] [-> Q] -> QConv/QGemm (integer kernels),
     DQ + DQ -> Add -> Q -> QAdd, DQ -> GlobalAveragePool -> Q -> QGlobalAveragePool, quantize_dynamic's
     ConvInteger/MatMulInteger -> Cast -> Mul [-> Add] [-> Relu] -> a float-output QConv/QGemm,
     then the remaining DequantizeLinear of constants folded (the loader's folding leaves them);
  1. fold_batchnorm: Conv -> BatchNormalization folded into the conv's weights and bias;
  2. fuse_conv: Conv (+ Add residual) (+ Relu / Clip(0,6)) -> FusedConv (HPC_DOMAIN);
     fuse_gemm: Gemm with constant B (+ Relu) -> FusedGemm (B stored once as the engine reads it);
  3. layout_nhwc: on the cpu backend with layout "NHWC" or "auto", 4-D activations in NHWC
     between the graph's edges; with "NCHW" on the cpu backend only the pools move to the
     HPC_DOMAIN forms (the C++ pooling, kernels/onnx/ops/nhwc.py).
The session then, on the cpu backend, pools straight into the classifier's matrix
(fuse_pool_flatten) and chains consecutive FusedConv nodes with the relayouts, pools and FusedGemm
around them (chain_convs: one C++ call per chain, a whole CNN being one; on opencl/cuda chains of
FusedConv only, whose values stay on the device); not part of compile_graph, whose result the
pass tests read node by node.
Folding first: the fusion must see the conv's final weights; the layout pass last: it needs to
know which convs became FusedConv (those are the ops that want NHWC).
"""
from __future__ import annotations

from typing import Optional

from .._ir import Graph
from .chain_convs import chain_convs
from .fold_batchnorm import fold_batchnorm
from .fuse_pool_flatten import fuse_pool_flatten
from .fuse_conv import fuse_conv
from .fuse_gemm import fuse_gemm
from .fuse_qdq import fuse_qdq
from .layout_nhwc import layout_nhwc

LAYOUTS = ("auto", "NCHW", "NHWC")

__all__ = ["LAYOUTS", "chain_convs", "compile_graph", "fold_batchnorm", "fuse_conv", "fuse_gemm", "fuse_pool_flatten", "fuse_qdq",
           "layout_nhwc", "runs_on_cpu"]


def runs_on_cpu(backend: Optional[str]) -> bool:
    """The cpu backend runs the session: named, or the default (None) when it is built."""
    if backend == "cpu":
        return True
    if backend is not None:
        return False
    try:
        import numpy as np

        from ... import _dispatch

        # The backend a conv2d of NumPy arrays with backend=None gets (environment, use_backend).
        return _dispatch.pick("conv2d", None, np.zeros(1, np.float32)).__self__.name == "cpu"
    except Exception:  # no backend can be chosen: nothing to tune the layout for
        return False


def compile_graph(graph: Graph, *, backend: Optional[str] = None, layout: str = "auto") -> Graph:
    """The graph the session runs. layout: "NCHW" (the model's), "NHWC" (4-D activations in NHWC
    between the edges) or "auto" (NHWC on the cpu backend, where the convolutions are fastest in
    it, else NCHW). Graph inputs and outputs keep the model's layout whatever is chosen."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(map(repr, LAYOUTS))}, got {layout!r}")
    # The kernels of the ops these passes create register on import (whoever creates the ops
    # makes sure they can be built).
    from ..ops import fused, nhwc, qadd_pool, qlinear  # noqa: F401

    if any(n.op_type in ("DequantizeLinear", "DynamicQuantizeLinear") and n.domain == "" for n in graph.nodes):
        graph = fuse_qdq(graph)
        # The DQs of constants the pass folded may feed more constant work (DQ(W) -> Transpose ->
        # MatMul, as some exporters write): the loader's folding, once more.
        from .._fold import fold_constants

        graph = fold_constants(graph, backend=backend)
    graph = fold_batchnorm(graph)
    graph = fuse_conv(graph)
    graph = fuse_gemm(graph)
    cpu = runs_on_cpu(backend)
    if layout == "NHWC" or (layout == "auto" and cpu):
        graph = layout_nhwc(graph, nhwc=True)
    elif cpu:
        graph = layout_nhwc(graph, nhwc=False)
    return graph
