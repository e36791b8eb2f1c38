"""Pass: the QDQ form of a quantized model (what onnxruntime's quantize_static writes with
QuantFormat.QDQ) -> integer nodes on hpc_kernels.qconv2d / qgemm (ops/qlinear.py's QConv, QGemm).

Why: a QDQ model states every quantized op as float math between DequantizeLinear (DQ) and
QuantizeLinear (Q); run literally, it dequantizes every weight and activation and convolves in
float. onnxruntime fuses the same patterns into QLinearConv/QLinearMatMul; this pass does the same
for this runtime, with quant_args' arithmetic (onnxruntime's requantization).

Patterns (domain ai.onnx; every value inside a pattern has no reader outside it, none is a graph output):
  DQ(x), DQ(W) [, DQ(B)] -> Conv [-> Add(residual)] [-> Relu | Clip(0, 6) | Clip(0, inf)] [-> Q]  => QConv
  DQ(A), DQ(B) -> MatMul | Gemm(C = DQ(bias)) [-> Relu | Clip] [-> Q]                            => QGemm
  DQ(a), DQ(b) -> Add -> Q (one 8-bit type)                                                      => QAdd
  then QConv (8-bit output) -> QAdd (as its operand a)                => QConv with the skip addition
  DQ(x) -> GlobalAveragePool -> Q (one 8-bit type, 4-D)                                         => QGlobalAveragePool
  DQ(x) -> MaxPool | Flatten | Reshape | Squeeze | Unsqueeze | Transpose -> Q, the Q with the DQ's
    scale (> 0) and zero point                                                                  => that op on x
  DynamicQuantizeLinear -> ConvInteger | MatMulInteger -> Cast -> Mul(x_scale * w_scale)
    [-> Add(bias)] [-> Relu]  (quantize_dynamic's form)                                          => QConv | QGemm (float)
With the Q the output is requantized (the Q's type); without it it is float32 ("float" mode). The
residual is the other operand of the Add, a float32 value as the graph computes it (typically the
DequantizeLinear op's (q - zp) * scale of the skip connection, run in float32 by that DQ node); the
epilogue adds it in output units, residual * float32(1 / y_scale), before the activation.
Preconditions, checked (any failure leaves the nodes as they are; they then run as Q/DQ ops and
float ops, still correctly): DQ(x) with a constant scalar float32 scale and scalar uint8/int8 zero
point; W a constant int8/uint8 tensor (4-D; 2-D for GEMM) with a scalar or per-output-channel scale
and zero point (DQ axis 0 for Conv and Gemm with transB, axis 1 for MatMul), no block_size; B a
constant int32 DQ with zero point 0 and scale x_scale * w_scale (to 2**-20 relative: the quantizer
writes exactly that product); Gemm with alpha 1, transA 0 and beta 1 (or no C). A Q whose scale
or zero point is not a constant scalar is not absorbed: it stays an op after a float-output node.
Finally, DQ nodes no one reads any more are dropped, and DQs of constants become constants (the
loader's folding leaves DQ to this pass, so that it sees the quantized weights).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np

from .._ir import HPC_DOMAIN, Graph, Node
from ._util import Names, constant, drop_unused_initializers, single_consumer, use_counts
from .fuse_conv import _activation

_CONV_ATTRS = {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}
_INT8 = (np.dtype(np.uint8), np.dtype(np.int8))
_F32 = np.dtype(np.float32)
# Ops that commute with a positive-scale DQ/Q pair: max (monotonic) and pure data movement.
_PASS_THROUGH = {"MaxPool", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose"}


def fuse_qdq(graph: Graph) -> Graph:
    _Fuser(graph).run()
    _drop_dead_dq(graph)
    _fuse_conv_add(graph)
    _fold_constant_dq(graph)
    drop_unused_initializers(graph)
    return graph


class _Fuser:
    def __init__(self, graph: Graph) -> None:
        self.g = graph
        self.names = Names(graph)
        self.counts, self.consumers = use_counts(graph), graph.consumers()
        self.producers = graph.producers()
        self.position = {id(n): i for i, n in enumerate(graph.nodes)}
        self.replace: Dict[int, Optional[Node]] = {}

    def run(self) -> None:
        for n in list(self.g.nodes):
            if n.domain != "" or id(n) in self.replace:
                continue
            if n.op_type == "Conv":
                self.conv(n)
            elif n.op_type in ("MatMul", "Gemm"):
                self.gemm(n)
            elif n.op_type == "Add":
                self.add(n)
            elif n.op_type == "GlobalAveragePool":
                self.global_average_pool(n)
            elif n.op_type in _PASS_THROUGH:
                self.pass_through(n)
            elif n.op_type in ("ConvInteger", "MatMulInteger"):
                self.dynamic(n)
        if self.replace:
            g = self.g
            g.nodes = [self.replace.get(id(n), n) for n in g.nodes if self.replace.get(id(n), n) is not None]

    # -- the parts of a pattern --------------------------------------------------------------
    def dq(self, value: str) -> Optional[Node]:
        p = self.producers.get(value)
        if p is None or p.op_type != "DequantizeLinear" or p.domain != "" or "block_size" in p.attrs:
            return None
        if p.attrs.get("output_dtype", 1) not in (0, 1):
            return None  # opset 23's output_dtype other than float32
        return p

    def activation_in(self, value: str) -> Optional[Tuple[str, str, str]]:
        """(q, scale, zero point) of a DQ with a constant scalar float32 scale and scalar 8-bit zp."""
        d = self.dq(value)
        if d is None:
            return None
        s = constant(self.g, d.inputs[1])
        zp_name = d.inputs[2] if len(d.inputs) > 2 else ""
        zp = constant(self.g, zp_name)
        if s is None or s.size != 1 or s.dtype != _F32 or (zp_name and (zp is None or zp.size != 1 or zp.dtype not in _INT8)):
            return None
        if not zp_name:
            vi = self.g.value_info.get(d.inputs[0]) or next((v for v in self.g.inputs if v.name == d.inputs[0]), None)
            if vi is None or vi.dtype not in _INT8:
                return None
            zp_name = self.new_const("zero_point", np.zeros((), vi.dtype))
        return d.inputs[0], self.scalar(d.inputs[1], s), self.scalar(zp_name, constant(self.g, zp_name))

    def weights_in(self, value: str, ndim: int, axis: int) -> Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(W, scale (n,) or (), zero point) of a DQ of constant 8-bit weights; per-axis on `axis` only."""
        d = self.dq(value)
        if d is None:
            return None
        w, s = constant(self.g, d.inputs[0]), constant(self.g, d.inputs[1])
        zp = constant(self.g, d.inputs[2]) if len(d.inputs) > 2 and d.inputs[2] else None
        if w is None or w.ndim != ndim or w.dtype not in _INT8 or s is None or s.dtype != _F32:
            return None
        if len(d.inputs) > 2 and d.inputs[2] and (zp is None or zp.dtype != w.dtype):
            return None
        dq_axis = int(d.attrs.get("axis", 1))
        dq_axis = dq_axis + ndim if dq_axis < 0 else dq_axis
        n = w.shape[axis]
        for v in (s, zp):
            if v is not None and v.size != 1 and (v.ndim != 1 or v.shape[0] != n or dq_axis != axis):
                return None
        zp = np.zeros((), w.dtype) if zp is None else zp
        return w, s.reshape(()) if s.size == 1 else s, zp.reshape(()) if zp.size == 1 else zp

    def bias_in(self, value: str, a_scale: np.ndarray, w_scale: np.ndarray, n: int) -> Optional[np.ndarray]:
        """The int32 bias of a DQ whose scale is a_scale * w_scale and zero point 0, else None."""
        d = self.dq(value)
        if d is None:
            return None
        b, s = constant(self.g, d.inputs[0]), constant(self.g, d.inputs[1])
        zp = constant(self.g, d.inputs[2]) if len(d.inputs) > 2 and d.inputs[2] else None
        if b is None or b.dtype != np.int32 or b.shape != (n,) or s is None or s.size not in (1, n):
            return None
        if len(d.inputs) > 2 and d.inputs[2] and (zp is None or np.any(zp != 0)):
            return None
        want = np.broadcast_to((np.float32(a_scale) * w_scale).astype(np.float32), (n,))
        if not np.allclose(np.broadcast_to(s.astype(np.float64).reshape(-1), (n,)), want, rtol=2.0 ** -20, atol=0):
            return None
        return b

    def output_q(self, value: str) -> Optional[Node]:
        """The Q that is `value`'s only reader, with constant scalar scale and 8-bit zero point."""
        q = self.next(value)
        if q is None or q.op_type != "QuantizeLinear" or q.domain != "" or "block_size" in q.attrs:
            return None
        s = constant(self.g, q.inputs[1])
        zp_name = q.inputs[2] if len(q.inputs) > 2 else ""
        zp = constant(self.g, zp_name)
        if s is None or s.size != 1 or s.dtype != _F32 or (zp_name and (zp is None or zp.size != 1 or zp.dtype not in _INT8)):
            return None
        if not zp_name and int(q.attrs.get("output_dtype", 0)) not in (0, 2, 3):
            return None
        return q

    def next(self, value: str) -> Optional[Node]:
        n = single_consumer(self.g, value, self.counts, self.consumers)
        return None if n is None or id(n) in self.replace or n.domain != "" else n

    def float32(self, value: str) -> bool:
        d = self.dq(value)
        if d is not None:
            s = constant(self.g, d.inputs[1])
            return s is not None and s.dtype == _F32
        vi = self.g.value_info.get(value) or next((v for v in self.g.inputs if v.name == value), None)
        return vi is not None and vi.dtype == _F32

    def new_const(self, base: str, v: np.ndarray) -> str:
        name = self.names.fresh(base)
        self.g.initializers[name] = v
        return name

    def scalar(self, name: str, v: np.ndarray) -> str:
        return name if v.ndim == 0 else self.new_const(name + "_scalar", v.reshape(()))

    def tail(self, out: str, residual_ok: bool) -> Tuple[List[Node], str, str, Optional[Node]]:
        """What follows the product: ([Add], [activation]) nodes absorbed, the residual, the
        activation, and the Q (None: float output)."""
        chain: List[Node] = []
        residual = activation = ""
        nxt = self.next(out)
        if residual_ok and nxt is not None and nxt.op_type == "Add" and len(nxt.inputs) == 2:
            other = nxt.inputs[1] if nxt.inputs[0] == out else nxt.inputs[0]
            if other != out and self.float32(other):
                residual, out = other, nxt.outputs[0]
                chain.append(nxt)
                nxt = self.next(out)
        if nxt is not None:
            act = _activation(self.g, nxt)
            if act is not None:
                activation, out = act, nxt.outputs[0]
                chain.append(nxt)
        return chain, residual, activation, self.output_q(out)

    # -- the patterns ------------------------------------------------------------------------
    def conv(self, conv: Node) -> None:
        if len(conv.inputs) < 2 or len(conv.outputs) != 1 or not set(conv.attrs) <= _CONV_ATTRS:
            return
        x = self.activation_in(conv.inputs[0])
        wq = self.weights_in(conv.inputs[1], 4, 0)
        if x is None or wq is None:
            return
        w, ws, wzp = wq
        k = w.shape[0]
        bias = ""
        if len(conv.inputs) > 2 and conv.inputs[2]:
            b = self.bias_in(conv.inputs[2], constant(self.g, x[1]), ws, k)
            if b is None:
                return
            bias = self.producers[conv.inputs[2]].inputs[0]
        chain, residual, act, q = self.tail(conv.outputs[0], residual_ok=True)
        self.emit(conv, chain, q, "QConv", x, w, ws, wzp, bias, residual, act, conv.attrs, "w")

    def gemm(self, n: Node) -> None:
        if len(n.outputs) != 1 or len(n.inputs) < 2:
            return
        tb = False
        if n.op_type == "Gemm":
            if not set(n.attrs) <= {"alpha", "beta", "transA", "transB"} or float(n.attrs.get("alpha", 1.0)) != 1.0 \
                    or int(n.attrs.get("transA", 0)):
                return
            tb = bool(n.attrs.get("transB", 0))
            if len(n.inputs) > 2 and n.inputs[2] and float(n.attrs.get("beta", 1.0)) != 1.0:
                return
        elif n.attrs:
            return
        x = self.activation_in(n.inputs[0])
        wq = self.weights_in(n.inputs[1], 2, 0 if tb else 1)
        if x is None or wq is None:
            return
        w, ws, wzp = wq
        if tb:
            w = np.ascontiguousarray(w.T)  # (N, K) -> (K, N): the kernel's B, once at load
        bias = ""
        if n.op_type == "Gemm" and len(n.inputs) > 2 and n.inputs[2]:
            if self.bias_in(n.inputs[2], constant(self.g, x[1]), ws, w.shape[1]) is None:
                return
            bias = self.producers[n.inputs[2]].inputs[0]
        chain, _, act, q = self.tail(n.outputs[0], residual_ok=False)
        self.emit(n, chain, q, "QGemm", x, w, ws, wzp, bias, "", act, {}, "b")

    def add(self, n: Node) -> None:
        """DQ(a) + DQ(b) -> Q: one QAdd (onnxruntime's QLinearAdd arithmetic) when a, b and the Q
        have one 8-bit type."""
        if len(n.inputs) != 2 or len(n.outputs) != 1 or n.attrs:
            return
        a, b = self.activation_in(n.inputs[0]), self.activation_in(n.inputs[1])
        q = self.output_q(n.outputs[0])
        if a is None or b is None or q is None or len(q.inputs) < 3 or not q.inputs[2]:
            return
        dts = {constant(self.g, v[2]).dtype for v in (a, b)} | {constant(self.g, q.inputs[2]).dtype}
        if len(dts) != 1:
            return
        c = (self.scalar(q.inputs[1], constant(self.g, q.inputs[1])), self.scalar(q.inputs[2], constant(self.g, q.inputs[2])))
        node = Node("QAdd", list(a) + list(b) + list(c), [q.outputs[0]], name=n.name or q.outputs[0], domain=HPC_DOMAIN)
        last = max((n, q), key=lambda m: self.position[id(m)])
        for m in (n, q):
            self.replace[id(m)] = node if m is last else None

    def global_average_pool(self, n: Node) -> None:
        """DQ(x) -> GlobalAveragePool -> Q of one 8-bit type: one QGlobalAveragePool (integer sum,
        onnxruntime's QLinearGlobalAveragePool requantization)."""
        if len(n.outputs) != 1 or n.attrs:
            return
        x = self.activation_in(n.inputs[0])
        q = self.output_q(n.outputs[0])
        if x is None or q is None or len(q.inputs) < 3 or not q.inputs[2]:
            return
        if constant(self.g, x[2]).dtype != constant(self.g, q.inputs[2]).dtype:
            return
        vi = self.g.value_info.get(n.inputs[0])
        if vi is None or vi.shape is None or len(vi.shape) != 4:
            return  # the kernel pools 4-D inputs (known from shape inference)
        c = (self.scalar(q.inputs[1], constant(self.g, q.inputs[1])), self.scalar(q.inputs[2], constant(self.g, q.inputs[2])))
        node = Node("QGlobalAveragePool", list(x) + list(c), [q.outputs[0]], name=n.name or q.outputs[0], domain=HPC_DOMAIN)
        self.replace[id(n)], self.replace[id(q)] = None, node

    def pass_through(self, n: Node) -> None:
        """DQ(x) -> op -> Q with the DQ's scale and zero point (equal values, one 8-bit type): the op
        on x itself. Exact: Q(DQ(v)) == v for every 8-bit v (|v - zp| * s / s rounds back to v - zp),
        data movement keeps the values, and with s > 0 DQ is increasing, so a max of dequantized
        values is the dequantized max; MaxPool's padding is never read (the integer pool's empty
        window gives the type's lowest value, the float one's saturates to it). onnxruntime's QDQ
        transformer drops the same pairs. Only MaxPool's Y (no Indices output)."""
        if len(n.outputs) != 1 or not n.inputs or not n.inputs[0]:
            return
        x = self.activation_in(n.inputs[0])
        q = self.output_q(n.outputs[0])
        if x is None or q is None or len(q.inputs) < 3 or not q.inputs[2]:
            return
        s_in, z_in = constant(self.g, x[1]), constant(self.g, x[2])
        s_out, z_out = constant(self.g, q.inputs[1]), constant(self.g, q.inputs[2])
        if z_in.dtype != z_out.dtype or int(z_in.reshape(())) != int(z_out.reshape(())):
            return
        s = np.float32(s_in.reshape(()))
        if s != np.float32(s_out.reshape(())) or not (np.isfinite(s) and s > 0):
            return
        node = Node(n.op_type, [x[0]] + list(n.inputs[1:]), [q.outputs[0]], dict(n.attrs), name=n.name or q.outputs[0])
        self.replace[id(n)], self.replace[id(q)] = None, node  # at the Q's place: every input is ready there

    def dynamic(self, n: Node) -> None:
        """quantize_dynamic's DynamicQuantizeLinear -> ConvInteger | MatMulInteger -> Cast(float) ->
        Mul(x_scale * w_scale) [-> Add(constant bias)] [-> Relu]: one float-output QConv/QGemm with
        the run-time x_scale/x_zero_point, the bias as its residual. The same float32 operations in
        the same order (float32(acc) * float32(x_scale * w_scale), + bias, relu): bit-identical."""
        conv = n.op_type == "ConvInteger"
        if len(n.outputs) != 1 or len(n.inputs) < 3 or (n.attrs and not (conv and set(n.attrs) <= _CONV_ATTRS)):
            return
        dql = self.producers.get(n.inputs[0])
        if dql is None or dql.op_type != "DynamicQuantizeLinear" or dql.domain != "" or len(dql.outputs) != 3 \
                or dql.outputs[0] != n.inputs[0] or dql.outputs[2] != n.inputs[2]:
            return  # x and its zero point from one DynamicQuantizeLinear: its scale is then a scalar
        w = constant(self.g, n.inputs[1])
        if w is None or w.ndim != (4 if conv else 2) or w.dtype not in _INT8:
            return
        ncol = w.shape[0] if conv else w.shape[1]
        wzp_name = n.inputs[3] if len(n.inputs) > 3 else ""
        wzp = constant(self.g, wzp_name) if wzp_name else np.zeros((), w.dtype)
        if wzp is None or wzp.dtype != w.dtype or wzp.size not in (1, ncol):
            return
        cast = self.next(n.outputs[0])
        if cast is None or cast.op_type != "Cast" or int(cast.attrs.get("to", 0)) != 1:
            return
        mul = self.next(cast.outputs[0])
        if mul is None or mul.op_type != "Mul" or len(mul.inputs) != 2:
            return
        prod_name = mul.inputs[1] if mul.inputs[0] == cast.outputs[0] else mul.inputs[0]
        prod = self.producers.get(prod_name)
        if prod is None or prod.op_type != "Mul" or prod.domain != "" or dql.outputs[1] not in prod.inputs:
            return
        ws_name = prod.inputs[1] if prod.inputs[0] == dql.outputs[1] else prod.inputs[0]
        ws = constant(self.g, ws_name)
        if ws is None or ws.dtype != _F32 or not _per_column(ws, ncol, conv):
            return
        chain, out, residual, act = [cast, mul], mul.outputs[0], "", ""
        nxt = self.next(out)
        if nxt is not None and nxt.op_type == "Add" and len(nxt.inputs) == 2:
            b = constant(self.g, nxt.inputs[1] if nxt.inputs[0] == out else nxt.inputs[0])
            if b is not None and b.dtype == _F32 and _per_column(b, ncol, conv):
                residual = nxt.inputs[1] if nxt.inputs[0] == out else nxt.inputs[0]
                chain.append(nxt)
                out = nxt.outputs[0]
                nxt = self.next(out)
        if nxt is not None and _activation(self.g, nxt) is not None:
            act = _activation(self.g, nxt)
            chain.append(nxt)
            out = nxt.outputs[0]
        if self.counts.get(prod_name, 0) == 1:
            chain.append(prod)  # the scale product: only this Mul read it
        base = n.name or out
        wn = self.new_const(f"{base}_w_q", w)
        wsn = self.new_const(f"{base}_w_scale", ws.reshape(-1) if ws.size > 1 else ws.reshape(()))
        wzn = self.new_const(f"{base}_w_zero_point", wzp.reshape(-1) if wzp.size > 1 else wzp.reshape(()))
        inputs = [n.inputs[0], dql.outputs[1], dql.outputs[2], wn, wsn, wzn, "", "", "", residual]
        attrs = dict(n.attrs) if conv else {}
        attrs["activation"] = act
        node = Node("QConv" if conv else "QGemm", inputs, [out], attrs, name=base, domain=HPC_DOMAIN)
        last = max([n] + chain, key=lambda m: self.position[id(m)])
        for m in [n] + chain:
            self.replace[id(m)] = node if m is last else None

    def emit(self, first: Node, chain: List[Node], q: Optional[Node], op: str, x, w, ws, wzp, bias: str, residual: str,
             act: str, attrs: dict, wname: str) -> None:
        last = chain[-1] if chain else first
        out = last.outputs[0]
        if q is not None:
            out = q.outputs[0]
            ys = self.scalar(q.inputs[1], constant(self.g, q.inputs[1]))
            zp_name = q.inputs[2] if len(q.inputs) > 2 else ""
            if zp_name:
                yzp = self.scalar(zp_name, constant(self.g, zp_name))
            else:
                dt = np.int8 if int(q.attrs.get("output_dtype", 0)) == 3 else np.uint8
                yzp = self.new_const("y_zero_point", np.zeros((), dt))
        else:
            ys = yzp = ""
        base = first.name or out
        wn = self.new_const(f"{base}_{wname}_q", w)
        wsn = self.new_const(f"{base}_{wname}_scale", ws)
        wzn = self.new_const(f"{base}_{wname}_zero_point", wzp)
        inputs = [x[0], x[1], x[2], wn, wsn, wzn, ys, yzp, bias] + ([residual] if residual else [])
        node = Node(op, inputs, [out], dict(attrs), name=base, domain=HPC_DOMAIN)
        node.attrs["activation"] = act
        # Placed where the last absorbed node ran: every input (x, the residual) is ready there.
        absorbed = [first] + chain + ([q] if q is not None else [])
        last_node = max(absorbed, key=lambda m: self.position[id(m)])
        for m in absorbed:
            self.replace[id(m)] = node if m is last_node else None


def _per_column(v: np.ndarray, n: int, conv: bool) -> bool:
    """v is a scalar or one value per output column: (n,) for a matrix product, (n, 1, 1) or
    (1, n, 1, 1) (or (n,)) along the channels of a convolution's NCHW output."""
    if v.size == 1:
        return v.ndim <= (4 if conv else 2)
    shapes = [(n,)] + ([(n, 1, 1), (1, n, 1, 1)] if conv else [(1, n)])
    return v.shape in shapes


def _same_constant(graph: Graph, a: str, b: str) -> bool:
    """Two inputs naming the same constant scalar value (and dtype)."""
    if a == b:
        return True
    va, vb = constant(graph, a), constant(graph, b)
    return va is not None and vb is not None and va.dtype == vb.dtype and va.shape == vb.shape and bool(np.all(va == vb))


def _fuse_conv_add(graph: Graph) -> None:
    """QConv (8-bit output) -> QAdd as its first operand => one QConv whose epilogue adds the skip
    tensor (qconv2d's skip addition: the same QLinearAdd arithmetic, bit for bit, the conv's 8-bit
    output never stored: a QDQ ResNet's 16 residual Adds, each a pass over its tensor and a node).
    Only as operand a: QLinearAdd's formula fma(a, ra, fma(b, rb, k)) is not symmetric in its
    rounding. The QAdd's a scale and zero point must be the conv's output ones, its parameters
    constant scalars, and the conv's output read by nothing else. The fused node runs where the
    QAdd ran: the skip tensor exists there."""
    counts, consumers, producers = use_counts(graph), graph.consumers(), graph.producers()
    replace: Dict[int, Optional[Node]] = {}
    for add in graph.nodes:
        if add.op_type != "QAdd" or add.domain != HPC_DOMAIN or len(add.inputs) != 8:
            continue
        conv = producers.get(add.inputs[0])
        if (conv is None or conv.op_type != "QConv" or conv.domain != HPC_DOMAIN or id(conv) in replace
                or len(conv.inputs) > 10 or len(conv.inputs) < 8 or not conv.inputs[6]
                or single_consumer(graph, add.inputs[0], counts, consumers) is not add):
            continue
        if not (_same_constant(graph, add.inputs[1], conv.inputs[6]) and _same_constant(graph, add.inputs[2], conv.inputs[7])):
            continue
        params = [constant(graph, add.inputs[i]) for i in (4, 5, 6, 7)]
        if any(v is None or v.size != 1 for v in params) or params[1].dtype != params[3].dtype:
            continue
        yzp = constant(graph, conv.inputs[7])
        if yzp is None or yzp.dtype != params[3].dtype:
            continue
        residual = conv.inputs[9] if len(conv.inputs) > 9 else ""
        inputs = list(conv.inputs[:9]) + [residual] + [add.inputs[i] for i in (3, 4, 5, 6, 7)]
        fused = Node("QConv", inputs, list(add.outputs), dict(conv.attrs), name=conv.name, domain=HPC_DOMAIN)
        fused.layout = conv.layout
        replace[id(conv)] = None
        replace[id(add)] = fused
    if replace:
        graph.nodes = [replace.get(id(n), n) for n in graph.nodes if replace.get(id(n), n) is not None]


def _drop_dead_dq(graph: Graph) -> None:
    """DequantizeLinear nodes whose outputs no node or graph output reads any more (the fused
    nodes read their inputs directly). Walked backwards: a chain of them goes at once."""
    used = set(graph.output_names())
    keep: List[Node] = []
    for n in reversed(graph.nodes):
        if n.op_type == "DequantizeLinear" and n.domain == "" and not any(o in used for o in n.outputs if o):
            continue
        used.update(i for i in n.inputs if i)
        keep.append(n)
    keep.reverse()
    graph.nodes = keep


def _fold_constant_dq(graph: Graph) -> None:
    """DQs of constants (weights of the ops no pattern took) become constants, as the loader's
    folding would have made them."""
    from ..ops.quantize import dequantize

    keep: List[Node] = []
    for n in graph.nodes:
        ins = [constant(graph, i) if i else None for i in n.inputs]
        if n.op_type == "DequantizeLinear" and n.domain == "" and all(v is not None or not i for v, i in zip(ins, n.inputs)):
            dt = {10: np.float16, 11: np.float64}.get(int(n.attrs.get("output_dtype", 0)))
            graph.initializers[n.outputs[0]] = dequantize(ins[0], ins[1], ins[2] if len(ins) > 2 else None,
                                                          int(n.attrs.get("axis", 1)), int(n.attrs.get("block_size", 0)), dt)
            continue
        keep.append(n)
    graph.nodes = keep


__all__ = ["fuse_qdq"]
