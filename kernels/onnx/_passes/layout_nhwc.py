"""Pass: run the graph's 4-D activations in NHWC between its edges (what onnxruntime's NHWC
transformer does on the cpu EP).

Why: the cpu backend's convolutions are fastest in NHWC (channels are the GEMM's contiguous
dimension; 1x1 convs need no lowering at all; depthwise rows vectorise over channels), and
pooling/elementwise ops run as well in NHWC. Transposing only where a value enters or leaves
that region keeps the layout changes to a handful per model instead of two per conv.

How: values keep their NCHW meaning under their original names. A value produced in NHWC gets
a new name ("<name>_nhwc"); a reader that needs NCHW (Flatten, Reshape, Gemm, Shape, any op
not listed below, a graph output) gets one `ToNCHW` (HPC_DOMAIN) node producing the original
name, inserted once per value. A value entering the region (a graph input, the output of an
NCHW op) gets one `ToNHWC`, unless it is itself `Transpose(perm=(0,3,1,2))` of something, whose
input then is used directly (the pair cancels: TF-exported models start with one).

NHWC forms (node.layout = "NHWC"):
  FusedConv, QConv                   layout set (their kernels pack their weights for NHWC)
  QAdd, Quantize/DequantizeLinear    unchanged (elementwise; Q/DQ only with scalar scale and zero point)
  QGlobalAveragePool                 layout set
  DynamicQuantizeLinear              its y (the scale and zero point are scalars)
  MaxPool/AveragePool (2-D kernel),  HPC_DOMAIN ops of the same name, kernels in ops/nhwc.py
  GlobalAveragePool/GlobalMaxPool    (the C++ pooling of csrc/ops/pool.cpp)
  BatchNormalization (inference,     HPC_DOMAIN `ChannelAffine` (y = x*scale + shift per
    constant parameters)               channel, last axis)
  Concat, Split, Softmax/LogSoftmax/ axis remapped (NCHW axis a -> NHWC axis (0,3,1,2)[a])
    Hardmax (opset 13+), Reduce*
  Resize (constant scales/sizes),    scales/sizes/roi/pads permuted; they stay ai.onnx ops,
    Pad (constant pads)                whose definitions are per axis, not per layout
  Transpose                          its perm composed with the NHWC order (often cancelling)
  elementwise (unary; binary/variadic with NHWC operands, constants or known 4-D values):
    unchanged; constants of rank <= 4 are broadcast to rank 4 and transposed.
Not handled (these read NCHW, through a ToNCHW): reductions with keepdims=0 that keep C and H or
W (the order of the remaining axes would differ), Softmax before opset 13 (it flattens from
`axis`), Resize/Pad with run-time parameters or an `axes` input, binary ops whose other operand
is a run-time value of unknown rank, MaxPool with an Indices output, LpPool.

Also used with nhwc=False (layout "NCHW" on the cpu backend): pools with a 2-D kernel (or a
known 4-D input) move to the HPC_DOMAIN forms with layout "NCHW", so the C++ pooling runs there too.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Set

import numpy as np

from .._ir import HPC_DOMAIN, Graph, Node
from ._util import Names, constant, drop_unused_initializers
from .fold_batchnorm import BN_ATTRS

TO_NHWC, TO_NCHW = (0, 2, 3, 1), (0, 3, 1, 2)
# NCHW axis a is NHWC axis _AXIS[a].
_AXIS = (0, 3, 1, 2)

_UNARY = {
    "Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Elu", "Selu", "Celu", "Softplus",
    "Softsign", "Exp", "Log", "Abs", "Neg", "Sqrt", "Reciprocal", "Floor", "Ceil", "Round", "Erf", "Identity",
    "Cast", "Gelu", "Mish", "Sin", "Cos", "Sign", "ThresholdedRelu", "Shrink", "Not", "IsNaN", "IsInf",
}
_UNARY_FIRST_ONLY = {"Clip", "Dropout"}  # only input 0 is an activation (bounds, ratio are scalars)
_BINARY = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Mean", "Pow", "PRelu", "Equal", "Less", "Greater",
           "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "BitShift", "Mod", "Where"}
_POOLS = {"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"}
_REDUCE = {"ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd", "ReduceL1", "ReduceL2",
           "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"}
_TRANSPOSES = {("", "Transpose"), (HPC_DOMAIN, "ToNHWC"), (HPC_DOMAIN, "ToNCHW")}


def layout_nhwc(graph: Graph, nhwc: bool = True) -> Graph:
    _Rewriter(graph, nhwc).run()
    return graph


class _Rewriter:
    def __init__(self, graph: Graph, nhwc: bool) -> None:
        self.g, self.want_nhwc = graph, nhwc
        self.names = Names(graph)
        self.nhwc: Dict[str, str] = {}  # NCHW-meaning name -> name of the same value in NHWC
        self.nchw_ready: Set[str] = {v.name for v in graph.inputs} | set(graph.initializers)
        self.alias: Dict[str, str] = {}  # a value that is another one (a cancelled transpose)
        # Values known to be 4-D: declared graph inputs, and what the loader's shape inference
        # recorded (graph.value_info, when the loader fills it).
        declared = list(graph.inputs) + list(getattr(graph, "value_info", {}).values())
        self.known4d: Set[str] = {v.name for v in declared if v.shape is not None and len(v.shape) == 4}
        self.producer: Dict[str, Node] = {}
        self.out: List[Node] = []

    # -- values -------------------------------------------------------------------------------
    def emit(self, node: Node) -> None:
        self.out.append(node)
        for o in node.outputs:
            if o:
                self.producer[o] = node

    def as_nchw(self, v: str) -> str:
        v = self.alias.get(v, v)
        if v and v in self.nhwc and v not in self.nchw_ready:
            self.emit(Node("ToNCHW", [self.nhwc[v]], [v], name=self.names.fresh(v + "_to_nchw"), domain=HPC_DOMAIN))
            self.nchw_ready.add(v)
        return v

    def as_nhwc(self, v: str) -> str:
        """The NHWC form of a 4-D value (the caller knows it is 4-D)."""
        v = self.alias.get(v, v)
        if v in self.nhwc:
            return self.nhwc[v]
        c = constant(self.g, v)
        if c is not None:
            return self.constant_nhwc(v, c)
        p = self.producer.get(v)
        if p is not None and p.domain == "" and p.op_type == "Transpose" and tuple(p.attr("perm", ())) == TO_NCHW:
            self.nhwc[v] = p.inputs[0]  # Transpose(0,3,1,2) then ToNHWC: the pair cancels
            return p.inputs[0]
        name = self.names.fresh(v + "_nhwc")
        self.emit(Node("ToNHWC", [v], [name], name=self.names.fresh(v + "_to_nhwc"), domain=HPC_DOMAIN))
        self.nhwc[v] = name
        return name

    def constant_nhwc(self, v: str, c: np.ndarray) -> str:
        """A constant broadcast against a 4-D NCHW value, for the same op on NHWC: ONNX broadcasts
        right-aligned, so it is first given rank 4 with leading ones, then transposed."""
        c4 = c.reshape((1,) * (4 - c.ndim) + c.shape)
        name = self.names.fresh(v + "_nhwc")
        self.g.initializers[name] = np.ascontiguousarray(c4.transpose(TO_NHWC))
        self.nhwc[v] = name
        return name

    def resident(self, v: str) -> bool:
        return self.alias.get(v, v) in self.nhwc and constant(self.g, self.alias.get(v, v)) is None

    def make_resident(self, node: Node, indices=None) -> None:
        """The node's outputs (all, or those at `indices`) are now produced in NHWC."""
        for i, o in enumerate(node.outputs):
            if o and (indices is None or i in indices):
                name = self.names.fresh(o + "_nhwc")
                self.nhwc[o] = name
                node.outputs[i] = name

    def nchw_outputs(self, node: Node) -> None:
        self.nchw_ready.update(o for o in node.outputs if o)

    def boundary(self, node: Node) -> None:
        """An op that reads NCHW: every NHWC input goes back through a ToNCHW."""
        node.inputs = [self.as_nchw(i) if i else i for i in node.inputs]
        self.emit(node)
        self.nchw_outputs(node)

    # -- the walk ------------------------------------------------------------------------------
    def run(self) -> None:
        g = self.g
        for node in g.nodes:
            node.inputs = [self.alias.get(i, i) for i in node.inputs]
            handler = self.handler(node)
            if handler is None or not handler(node):
                self.boundary(node)
        for v in g.outputs:
            name = self.as_nchw(v.name)
            if name != v.name:  # an alias: the graph output keeps its name
                self.emit(Node("Identity", [name], [v.name], name=self.names.fresh(v.name + "_identity")))
        g.nodes = _drop_dead_transposes(self.out, {v.name for v in g.outputs})
        drop_unused_initializers(g)

    def handler(self, node: Node):
        op, d = node.op_type, node.domain
        if d == HPC_DOMAIN and op == "FusedConv":
            return self.fused_conv
        if d == HPC_DOMAIN and op == "QConv":
            return lambda n: self.fused_conv(n, residual_index=9)
        if d == HPC_DOMAIN and op == "QAdd" and self.want_nhwc:
            return self.qadd
        if d == HPC_DOMAIN and op == "QGlobalAveragePool" and self.want_nhwc:
            return self.qpool
        if d != "":
            return None
        if op in _POOLS:
            return self.pool
        if not self.want_nhwc:
            return None
        if op in ("QuantizeLinear", "DequantizeLinear"):
            return self.qdq
        if op == "DynamicQuantizeLinear":
            return self.dynamic_quantize
        if op in _UNARY or op in _UNARY_FIRST_ONLY:
            return self.unary
        if op in _BINARY:
            return self.binary
        return {
            "BatchNormalization": self.batchnorm, "Concat": self.concat, "Split": self.split,
            "Softmax": self.softmax, "LogSoftmax": self.softmax, "Hardmax": self.softmax,
            "Resize": self.resize, "Pad": self.pad, "Transpose": self.transpose,
        }.get(op, self.reduce if op in _REDUCE else None)

    def fused_conv(self, node: Node, residual_index: int = 3) -> bool:
        """FusedConv (residual input 3) and QConv (the QDQ pass's integer conv, residual input 9,
        the skip tensor of a fused QAdd input 10): the residual and skip take the output's layout."""
        if not self.want_nhwc:
            node.layout = "NCHW"
            self.known4d.update(node.outputs)  # 4-D weights: a 4-D output (a pool after it is 2-D)
            return False
        extra = [residual_index] + ([10] if node.op_type == "QConv" else [])
        for i in extra:
            res = node.inputs[i] if len(node.inputs) > i else ""
            rc = constant(self.g, res)
            if res and not (self.resident(res) or res in self.known4d or (rc is not None and rc.ndim <= 4)):
                node.layout = "NCHW"  # a residual of unknown rank cannot be transposed safely
                return False
        node.inputs[0] = self.as_nhwc(node.inputs[0])  # X is 4-D: W is
        for i in extra:
            if len(node.inputs) > i and node.inputs[i]:
                node.inputs[i] = self.as_nhwc(node.inputs[i])
        node.layout = "NHWC"
        self.make_resident(node)
        self.emit(node)
        return True

    def pool(self, node: Node) -> bool:
        op = node.op_type
        if len([o for o in node.outputs if o]) != 1:
            return False  # MaxPool's Indices are NCHW offsets
        two_d = op.startswith("Global") or len(node.attr("kernel_shape", ())) == 2
        if not two_d or not _pool_supported(node):
            return False
        x = node.inputs[0]
        if self.want_nhwc and self.resident(x):
            node.inputs[0] = self.as_nhwc(x)
            node.domain, node.layout = HPC_DOMAIN, "NHWC"
            self.make_resident(node)
            self.emit(node)
            return True
        if op.startswith("Global") and x not in self.known4d and not self.resident(x):
            return False  # rank unknown: the ai.onnx op handles 3-D and 5-D too
        node.inputs[0] = self.as_nchw(x)
        node.domain, node.layout = HPC_DOMAIN, "NCHW"
        self.emit(node)
        self.nchw_outputs(node)
        if x in self.known4d or self.resident(x):
            self.known4d.update(node.outputs)
        return True

    def unary(self, node: Node) -> bool:
        if not self.resident(node.inputs[0]) or (node.op_type == "Dropout" and len([o for o in node.outputs if o]) != 1):
            return False
        node.inputs[0] = self.as_nhwc(node.inputs[0])
        self.make_resident(node)
        self.emit(node)
        return True

    def binary(self, node: Node) -> bool:
        ins = [i for i in node.inputs if i]
        if not any(self.resident(i) for i in ins):
            return False
        for i in ins:
            c = constant(self.g, i)
            if not (self.resident(i) or i in self.known4d or (c is not None and c.ndim <= 4)):
                return False  # unknown rank: transposing it could be wrong
        node.inputs = [self.as_nhwc(i) if i else i for i in node.inputs]
        self.make_resident(node)
        self.emit(node)
        return True

    def qdq(self, node: Node) -> bool:
        """QuantizeLinear/DequantizeLinear with a constant scalar scale and zero point: elementwise
        (per-axis and blocked ones name an NCHW axis: they read NCHW)."""
        if not self.resident(node.inputs[0]) or int(node.attr("block_size", 0)):
            return False
        for name in node.inputs[1:3]:
            c = constant(self.g, name) if name else np.zeros(())
            if c is None or c.size != 1:
                return False
        return self.unary(node)

    def dynamic_quantize(self, node: Node) -> bool:
        """DynamicQuantizeLinear: y in x's layout (the range is over the whole tensor); its scale
        and zero point are scalars."""
        if not self.resident(node.inputs[0]):
            return False
        node.inputs[0] = self.as_nhwc(node.inputs[0])
        self.make_resident(node, indices={0})
        self.nchw_ready.update(o for o in node.outputs[1:] if o)
        self.emit(node)
        return True

    def qadd(self, node: Node) -> bool:
        """QAdd (the QDQ pass's integer Add): inputs 0 and 3 are the operands, the rest scalars."""
        a, b = node.inputs[0], node.inputs[3]
        if not (self.resident(a) or self.resident(b)):
            return False
        for v in (a, b):
            c = constant(self.g, v)
            if not (self.resident(v) or v in self.known4d or (c is not None and c.ndim <= 4)):
                return False  # unknown rank: transposing it could be wrong
        node.inputs[0], node.inputs[3] = self.as_nhwc(a), self.as_nhwc(b)
        self.make_resident(node)
        self.emit(node)
        return True

    def qpool(self, node: Node) -> bool:
        """QGlobalAveragePool (4-D by construction): pools in NHWC when its input is there."""
        if not self.resident(node.inputs[0]):
            return False
        node.inputs[0] = self.as_nhwc(node.inputs[0])
        node.layout = "NHWC"
        self.make_resident(node)
        self.emit(node)
        return True

    def batchnorm(self, node: Node) -> bool:
        if not self.resident(node.inputs[0]) or int(node.attr("training_mode", 0)) or len([o for o in node.outputs if o]) != 1:
            return False
        if not set(node.attrs) <= BN_ATTRS or int(node.attr("spatial", 1)) != 1:
            return False
        params = [constant(self.g, n) for n in node.inputs[1:5]]
        if len(params) != 4 or any(p is None for p in params):
            return False
        gamma, beta, mean, var = (np.asarray(p, np.float64).reshape(-1) for p in params)
        scale = gamma / np.sqrt(var + float(node.attr("epsilon", 1e-5)))
        shift = beta - mean * scale
        dt = params[0].dtype
        sn, tn = self.names.fresh(node.inputs[1] + "_scale"), self.names.fresh(node.inputs[2] + "_shift")
        self.g.initializers[sn], self.g.initializers[tn] = scale.astype(dt), shift.astype(dt)
        aff = Node("ChannelAffine", [self.as_nhwc(node.inputs[0]), sn, tn], list(node.outputs[:1]),
                   name=node.name, domain=HPC_DOMAIN, layout="NHWC")
        self.make_resident(aff)
        self.emit(aff)
        return True

    def _axis(self, node: Node, key: str = "axis", default: int = 0) -> int:
        a = int(node.attr(key, default))
        return _AXIS[a + 4 if a < 0 else a]

    def concat(self, node: Node) -> bool:
        if not any(self.resident(i) for i in node.inputs if i):
            return False  # all inputs have one rank: one NHWC input makes them all 4-D
        node.inputs = [self.as_nhwc(i) for i in node.inputs]
        node.attrs["axis"] = self._axis(node)
        self.make_resident(node)
        self.emit(node)
        return True

    def split(self, node: Node) -> bool:
        if not self.resident(node.inputs[0]):
            return False
        node.inputs[0] = self.as_nhwc(node.inputs[0])
        node.attrs["axis"] = self._axis(node)
        self.make_resident(node)
        self.emit(node)
        return True

    def softmax(self, node: Node) -> bool:
        if self.g.opset < 13 or not self.resident(node.inputs[0]):
            return False  # before 13, Softmax flattens the axes from `axis` on: order matters
        node.inputs[0] = self.as_nhwc(node.inputs[0])
        node.attrs["axis"] = self._axis(node, default=-1)
        self.make_resident(node)
        self.emit(node)
        return True

    def reduce(self, node: Node) -> bool:
        if not self.resident(node.inputs[0]):
            return False
        from_input = len(node.inputs) > 1 and node.inputs[1]
        if from_input:
            c = constant(self.g, node.inputs[1])
            if c is None:
                return False
            axes = [int(a) for a in c.reshape(-1)]
        else:
            axes = [int(a) for a in node.attr("axes", [])]
        if not axes:
            return False  # all axes (or noop_with_empty_axes): left to the NCHW op
        axes = [a + 4 if a < 0 else a for a in axes]
        keep = int(node.attr("keepdims", 1))
        if not keep and 1 not in axes and not (2 in axes and 3 in axes):
            return False  # the kept axes would come out as (H, W, C) instead of (C, H, W)
        new_axes = sorted(_AXIS[a] for a in axes)
        node.inputs[0] = self.as_nhwc(node.inputs[0])
        if from_input:
            name = self.names.fresh(node.inputs[1] + "_nhwc")
            self.g.initializers[name] = np.asarray(new_axes, dtype=np.int64)
            node.inputs[1] = name
        else:
            node.attrs["axes"] = new_axes
        if keep:
            self.make_resident(node)
        else:
            self.nchw_outputs(node)  # C reduced, or H and W: the remaining axes keep their order
        self.emit(node)
        return True

    def _permuted_const(self, name: str, perm_of) -> Optional[str]:
        c = constant(self.g, name)
        if c is None:
            return None
        new = self.names.fresh(name + "_nhwc")
        self.g.initializers[new] = np.ascontiguousarray(perm_of(c))
        return new

    def resize(self, node: Node) -> bool:
        if not self.resident(node.inputs[0]) or "axes" in node.attrs:
            return False
        ins = list(node.inputs) + [""] * (4 - len(node.inputs))
        if self.g.opset < 11:  # Resize-10: (X, scales)
            ins = ins[:2]
        new = [self.as_nhwc(ins[0])]
        for k, name in enumerate(ins[1:], start=1):
            if not name:
                new.append(name)
                continue
            c = constant(self.g, name)
            if c is None:
                return False
            if c.size == 0:
                new.append(name)
                continue
            if self.g.opset >= 11 and k == 1:  # roi: starts then ends, per axis
                if c.size != 8:
                    return False
                perm = lambda a: np.concatenate([a[:4][list(TO_NHWC)], a[4:][list(TO_NHWC)]])
            else:
                if c.size != 4:
                    return False
                perm = lambda a: a[list(TO_NHWC)]
            new.append(self._permuted_const(name, lambda a, p=perm: p(a.reshape(-1))))
        node.inputs = new[: len(node.inputs)]
        self.make_resident(node)
        self.emit(node)
        return True

    def pad(self, node: Node) -> bool:
        if not self.resident(node.inputs[0]) or (len(node.inputs) > 3 and node.inputs[3]):
            return False  # opset 18's `axes` input: not handled
        perm = lambda a: np.concatenate([a[:4][list(TO_NHWC)], a[4:][list(TO_NHWC)]])
        if self.g.opset < 11:
            pads = node.attr("pads")
            if pads is None or len(pads) != 8:
                return False
            node.attrs["pads"] = [int(p) for p in perm(np.asarray(pads))]
        else:
            c = constant(self.g, node.inputs[1]) if len(node.inputs) > 1 else None
            if c is None or c.size != 8:
                return False
            node.inputs[1] = self._permuted_const(node.inputs[1], lambda a: perm(a.reshape(-1)))
        node.inputs[0] = self.as_nhwc(node.inputs[0])
        self.make_resident(node)
        self.emit(node)
        return True

    def transpose(self, node: Node) -> bool:
        x = node.inputs[0]
        perm = node.attr("perm")
        if not self.resident(x) or perm is None or len(perm) != 4:
            return False
        # NCHW axis i of x is NHWC axis TO_NCHW[i]: Transpose(x_nchw, p) = x_nhwc.transpose(TO_NCHW[p]).
        composed = [TO_NCHW[int(p) + 4 if int(p) < 0 else int(p)] for p in perm]
        src = self.nhwc[self.alias.get(x, x)]
        if composed == [0, 1, 2, 3]:
            self.alias[node.outputs[0]] = src  # the model's own Transpose to NHWC cancels ours
            self.nchw_ready.add(src)
            return True
        node.inputs[0], node.attrs["perm"] = src, composed
        self.emit(node)
        self.nchw_outputs(node)
        return True


def _pool_supported(node: Node) -> bool:
    """What the HPC_DOMAIN pools (ops/nhwc.py, csrc/ops/pool.cpp) implement: AveragePool without
    dilations (opset 19's) and with pads smaller than the kernel (as onnxruntime requires)."""
    if node.op_type != "AveragePool":
        return True
    k = [int(v) for v in node.attr("kernel_shape", ())]
    if any(int(d) != 1 for d in node.attr("dilations", (1, 1))):
        return False
    pads = [int(p) for p in node.attr("pads", (0, 0, 0, 0))]
    return len(pads) == 4 and all(pads[i] < k[i % 2] for i in range(4))


def _drop_dead_transposes(nodes: List[Node], outputs: Set[str]) -> List[Node]:
    """Transposes (and the Identity of an alias) whose outputs nobody reads: left behind where a
    pair cancelled. Walked backwards so that a chain of them goes at once."""
    used = set(outputs)
    keep: List[Node] = []
    for n in reversed(nodes):
        if ((n.domain, n.op_type) in _TRANSPOSES or n.op_type == "Identity") and not any(o in used for o in n.outputs):
            continue
        used.update(i for i in n.inputs if i)
        keep.append(n)
    keep.reverse()
    return keep
