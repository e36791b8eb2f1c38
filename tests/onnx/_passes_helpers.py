"""Helpers of the compile-pass tests: ONNX models built with onnx.helper, a minimal ModelProto ->
Graph conversion, and a small graph runner.

Why not the runtime's loader and session: they live on the `onnx-core` branch; these tests must
run without it. The runner builds every node through the op registry when a kernel is registered
(the passes' own ops, and onnx-core's once merged) and otherwise through the NumPy reference
forms below, which cover the ai.onnx ops these tests leave in a compiled graph."""
from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from hpc_kernels.onnx._ir import Graph, Node, ValueInfo
from hpc_kernels.onnx._registry import _BUILDERS, BuildContext, lookup
from hpc_kernels.onnx.ops import _pool

OPSET = 17


def to_graph(model: onnx.ModelProto) -> Graph:
    g = model.graph
    inits = {t.name: numpy_helper.to_array(t).copy() for t in g.initializer}
    nodes: List[Node] = []
    for n in g.node:
        attrs = {}
        for a in n.attribute:
            v = helper.get_attribute_value(a)
            if isinstance(v, bytes):
                v = v.decode()
            elif isinstance(v, onnx.TensorProto):
                v = numpy_helper.to_array(v)
            elif isinstance(v, list):
                v = list(v)
            attrs[a.name] = v
        if n.op_type == "Constant":  # what the loader's constant folding does
            inits[n.output[0]] = np.asarray(attrs["value"])
            continue
        nodes.append(Node(n.op_type, list(n.input), list(n.output), attrs, name=n.name, domain=n.domain))

    def info(v):
        t = v.type.tensor_type
        shape = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.shape.dim)
        return ValueInfo(v.name, np.dtype(helper.tensor_dtype_to_np_dtype(t.elem_type)), shape)

    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), OPSET)
    return Graph(nodes, [info(v) for v in g.input if v.name not in inits], [info(v) for v in g.output], inits, opset)


class _Workspace:
    def output(self, index, shape, dtype):
        return np.empty(shape, dtype)

    def scratch(self, shape, dtype):
        return np.empty(shape, dtype)


def _conv_ref(x, w, b=None, *, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), group=1, **_):
    import hpc_kernels

    return hpc_kernels.conv2d(x, w, b, stride=tuple(strides), padding=(pads[0], pads[2], pads[1], pads[3]),
                              dilation=tuple(dilations), groups=group, backend="reference")


def _pool_ref(kind):
    def run(x, kernel_shape, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), ceil_mode=0, count_include_pad=0, **_):
        n, c, h, w = x.shape
        ho = _pool.output_size(h, kernel_shape[0], strides[0], dilations[0], pads[0], pads[2], bool(ceil_mode))
        wo = _pool.output_size(w, kernel_shape[1], strides[1], dilations[1], pads[1], pads[3], bool(ceil_mode))
        out = np.empty((n, c, ho, wo), x.dtype)
        p4 = (pads[0], pads[2], pads[1], pads[3])
        if kind == "max":
            return _pool.max_pool2d(x, out, kernel_shape, strides, p4, dilations, "NCHW", backend="reference")
        return _pool.avg_pool2d(x, out, kernel_shape, strides, p4, count_include_pad, "NCHW", backend="reference")

    return run


def _bn_ref(x, s, b, m, v, epsilon=1e-5, **_):
    sh = (1, -1) + (1,) * (x.ndim - 2)
    return ((x - m.reshape(sh)) / np.sqrt(v.reshape(sh) + epsilon) * s.reshape(sh) + b.reshape(sh)).astype(x.dtype)


def _gemm_ref(a, b, c=None, alpha=1.0, beta=1.0, transA=0, transB=0, **_):
    a, b = (a.T if transA else a), (b.T if transB else b)
    y = alpha * (a @ b)
    return (y + beta * c if c is not None else y).astype(a.dtype)


def _clip_ref(x, lo=None, hi=None, min=None, max=None, **_):
    lo = min if lo is None else lo
    hi = max if hi is None else hi
    return np.clip(x, lo, hi)


# ai.onnx forms (NCHW, positional inputs then attributes) for ops no kernel is registered for yet.
REFERENCE = {
    "Relu": lambda x, **_: np.maximum(x, 0),
    "Sigmoid": lambda x, **_: (1 / (1 + np.exp(-x))).astype(x.dtype),
    "Add": lambda a, b, **_: a + b,
    "Mul": lambda a, b, **_: a * b,
    "Sub": lambda a, b, **_: a - b,
    "Identity": lambda x, **_: x,
    "Clip": _clip_ref,
    "Flatten": lambda x, axis=1, **_: x.reshape(int(np.prod(x.shape[:axis])), -1),
    "Reshape": lambda x, s, **_: x.reshape([x.shape[i] if v == 0 else v for i, v in enumerate(s)]),
    "Transpose": lambda x, perm=None, **_: np.ascontiguousarray(x.transpose(perm)),
    "Concat": lambda *xs, axis, **_: np.concatenate(xs, axis=axis),
    "Gemm": _gemm_ref,
    "Conv": _conv_ref,
    "BatchNormalization": _bn_ref,
    "MaxPool": _pool_ref("max"),
    "AveragePool": _pool_ref("avg"),
    "GlobalAveragePool": lambda x, **_: x.mean(axis=(2, 3), keepdims=True),
    "ReduceMean": lambda x, axes=None, keepdims=1, **_: x.mean(axis=tuple(axes), keepdims=bool(keepdims)),
}


def run_graph(graph: Graph, feeds: Dict[str, np.ndarray], backend=None, threads=None) -> List[np.ndarray]:
    env = dict(graph.initializers)
    env.update(feeds)
    ctx = BuildContext(backend, threads, dict(graph.initializers), graph.opset)
    ws = _Workspace()
    for node in graph.nodes:
        args = [env[i] if i else None for i in node.inputs]
        if (node.domain, node.op_type) in _BUILDERS:
            outs = lookup(node, graph.opset)(node, graph.opset, ctx)(args, ws)
        else:
            assert node.domain == "", f"no kernel for {node.describe()}"
            while args and args[-1] is None:
                args.pop()
            outs = [REFERENCE[node.op_type](*args, **node.attrs)]
        for name, v in zip(node.outputs, outs):
            if name:
                env[name] = v
    return [env[v.name] for v in graph.outputs]


def run_onnxruntime(model: onnx.ModelProto, feeds: Dict[str, np.ndarray]) -> List[np.ndarray]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # the model as written
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


# -- model building ---------------------------------------------------------------------------
class ModelBuilder:
    """Nodes and float32 initializers with deterministic random values."""

    def __init__(self, seed: int = 0, opset: int = OPSET) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: List[onnx.NodeProto] = []
        self.inits: List[onnx.TensorProto] = []
        self.opset = opset
        self._n = 0

    def name(self, base: str) -> str:
        self._n += 1
        return f"{base}{self._n}"

    def const(self, array: np.ndarray, base: str = "c") -> str:
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op: str, inputs: Sequence[str], n_out: int = 1, **attrs) -> str:
        outs = [self.name(op.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op, list(inputs), outs, name=self.name(op + "_"), **attrs))
        return outs[0] if n_out == 1 else outs

    def conv(self, x: str, c: int, k: int, ksize: int = 3, stride: int = 1, pad: int = None, group: int = 1, bias=True) -> str:
        pad = ksize // 2 if pad is None else pad
        w = self.const((self.rng.standard_normal((k, c // group, ksize, ksize)) / np.sqrt(c // group * ksize * ksize)).astype(np.float32), "w")
        ins = [x, w] + ([self.const(self.rng.standard_normal(k).astype(np.float32) * 0.1, "b")] if bias else [])
        return self.node("Conv", ins, kernel_shape=[ksize, ksize], strides=[stride, stride], pads=[pad] * 4, group=group)

    def bn(self, x: str, c: int) -> str:
        r = self.rng
        params = [r.uniform(0.5, 1.5, c), r.standard_normal(c) * 0.1, r.standard_normal(c) * 0.1, r.uniform(0.5, 1.5, c)]
        return self.node("BatchNormalization", [x] + [self.const(p.astype(np.float32), "bn") for p in params], epsilon=1e-5)

    def clip6(self, x: str) -> str:
        return self.node("Clip", [x, self.const(np.float32(0), "lo"), self.const(np.float32(6), "hi")])

    def model(self, inputs, outputs) -> onnx.ModelProto:
        def vi(name, shape):
            return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)

        g = helper.make_graph(self.nodes, "g", [vi(n, s) for n, s in inputs], [vi(n, s) for n, s in outputs], self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", self.opset)])
        m.ir_version = 8  # what the installed onnxruntime reads
        return m


def ops_of(graph: Graph) -> List[str]:
    return [n.op_type for n in graph.nodes]


def flat_nodes(graph: Graph) -> List[Node]:
    """A session's graph nodes with each conv chain's sub-nodes in its place (on the cpu backend
    QConv and FusedConv nodes run inside FusedConvChain nodes)."""
    return [sub for n in graph.nodes for sub in (n.attrs["nodes"] if n.op_type == "FusedConvChain" else [n])]
