"""Kernel of FusedConvChain (HPC_DOMAIN, made by kernels/onnx/_passes/chain_convs.py): a chain of
FusedConv nodes run by one C++ call (hpc_kernels._cpu.ChainProgram: conv2d_chain with the steps
parsed once) with the steps and the buffers of their intermediate values prepared once per input
shape. A session whose graph is this one node runs it on the program's own intermediates (direct
below; InferenceSession.run's direct path).

On a device backend (opencl, cuda) the values stay on the device between the steps: the chain's
inputs are uploaded once, each step's result is a device array, and only the last is copied back
(one round trip per chain, not one per convolution).

Inputs: the chain's external values (the first node's X, residuals made outside the chain);
attribute "nodes": the FusedConv nodes in order; output: the last node's. The intermediate values
live in scratch buffers of the session's arena (ws.scratch), assigned so that a value's buffer
is reused once its last reader has run, never by a step that still reads it. Each sub-node's
kernel is the FusedConv kernel (kernels/onnx/ops/fused.py); where one of them cannot be a C++
step for the shapes met (another dtype, a broadcasting residual), the chain runs them one by one
in Python with the same buffers.

In C++, consecutive NHWC steps that each read only the step before (expand, depthwise, project)
run in row bands when an intermediate of one image is larger than KERNELS_CONV_BAND_BYTES (default
half the L2): csrc/conv/conv_band.hpp. Their intermediates are then never written whole, and the
profile gives the banded run's time under its last node (the others show 0).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np

from ... import _config
from .._ir import HPC_DOMAIN, Node
from .._registry import BuildContext, Kernel, lookup, register, unsupported


# The ops (HPC domain, one output, run-time input X only) a cpu chain runs as C++ steps besides its
# convolutions (csrc/bindings/chain_ops.hpp): the input's relayout before a network's first
# convolution, its pools, its classifier.
# A quantized model's ops (kernels/onnx/ops/qlinear.py, qadd_pool.py, quantize.py) run as steps too:
# QConv as a "qconv" step, QGemm as a "qgemm" one (its plan a 1x1 QConv2d), QGlobalAveragePool,
# QuantizeLinear and DequantizeLinear as op steps, so a QDQ ResNet-50 runs from its input's
# quantization to its output's dequantization in one call, without the Python around each of its
# 53 convolutions and 4 other ops.
CHAINABLE_OPS = ("FusedConv", "ToNHWC", "ToNCHW", "MaxPool", "AveragePool", "GlobalAveragePool", "FusedGemm", "QConv",
                 "QGlobalAveragePool", "QGemm")

# Per op type, the input position of the second run-time value a step reads besides its X: a
# FusedConv's residual, a QConv's skip tensor (its fused QAdd's other operand).
_SECOND_INPUT = {"FusedConv": 3, "QConv": 10}
# The 8-bit ops, chain steps only where every input but X (and QConv's skip tensor) is a constant,
# with the position of a float residual that keeps a node out of chains (-1: none).
_QUANTIZED_OPS = {"QConv": 9, "QGemm": 9, "QGlobalAveragePool": -1}
# ai.onnx ops a cpu chain runs with constant scales and zero points: a QDQ model's input
# quantization and its output's dequantization (ops/quantize.py).
_QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
# The sub-nodes whose buffers are reused once their value is dead (prepare below says why not all).
_FREED_SLOTS = ("FusedConv", "QConv", "QGemm")


def chainable(n: Node, ops: bool, constants=None) -> bool:
    """Whether node n can be a step of a chain: a FusedConv, or with ops one of CHAINABLE_OPS; an
    8-bit op only where every input but its X (and a QConv's skip tensor) is among `constants`
    (names) and it has no float residual: the chain gives a step only those (static quantization)."""
    if len(n.outputs) != 1 or not n.outputs[0]:
        return False
    if n.domain == "" and n.op_type in _QDQ_OPS:  # ai.onnx QuantizeLinear / DequantizeLinear
        return ops and constants is not None and all(v in constants for v in n.inputs[1:] if v)
    if n.domain != HPC_DOMAIN:
        return False
    if n.op_type in _QUANTIZED_OPS:
        if not ops or constants is None:
            return False
        return all(not v or i in (0, _SECOND_INPUT.get(n.op_type)) or (v in constants and i != _QUANTIZED_OPS[n.op_type])
                   for i, v in enumerate(n.inputs))
    return n.op_type == "FusedConv" or (ops and n.op_type in CHAINABLE_OPS)


def second_input(n: Node) -> str:
    """The name of the second run-time value sub-node n reads besides its X, or ""."""
    i = _SECOND_INPUT.get(n.op_type)
    return n.inputs[i] if i is not None and len(n.inputs) > i else ""


_CACHE_LIMIT = 16  # prepared forms kept per chain (input shapes x buffer sets of the threads)


_SLOT_ALIGN = 64  # bytes: each slot starts on a cache line of the one scratch buffer


class _Prepared:
    """What one input shape needs: each value's shape, the buffer slot of each intermediate,
    the slots' byte offsets in one scratch buffer of `total` bytes and the C++ steps (None: the
    Python path). One buffer, not one per slot: the Python of a run is what a chain saves, and a
    scratch buffer per slot cost its own arena bookkeeping, run after run."""

    def __init__(self, shapes, dtypes, slot_of, slot_bytes, steps) -> None:
        self.shapes: List[Tuple[int, ...]] = shapes
        self.dtypes: List[np.dtype] = dtypes
        self.slot_of: List[int] = slot_of
        self.offsets: List[int] = []
        total = 0
        for n in slot_bytes:
            self.offsets.append(total)
            total += -(-n // _SLOT_ALIGN) * _SLOT_ALIGN
        self.total = total
        self.steps: Optional[list] = steps
        self.program = None  # hpc_kernels._cpu.ChainProgram of the steps, made at the first cpu run
        self.views: Dict[int, list] = {}  # id of the scratch buffer -> views of the intermediates
        self.bound = False  # whether the program holds intermediates of its own (direct runs)


class _Outputs:
    """The ws of one sub-node on the Python path: output is its planned buffer, scratch the
    session's (a QConv whose skip tensor broadcasts writes the conv into scratch first)."""

    def __init__(self, arr: np.ndarray, node: Node, ws) -> None:
        self.arr, self.node, self._ws = arr, node, ws

    def scratch(self, shape, dtype) -> np.ndarray:
        return self._ws.scratch(shape, dtype)

    def output(self, index: int, shape, dtype) -> np.ndarray:
        if index != 0 or tuple(shape) != self.arr.shape or np.dtype(dtype) != self.arr.dtype:
            # Only a residual that broadcasts the conv's output to a larger shape gets here.
            raise ValueError(f"{self.node.describe()}: output {tuple(shape)} {np.dtype(dtype)} inside a conv chain, "
                             f"planned {self.arr.shape} {self.arr.dtype} (a residual may not broadcast the conv's output)")
        return self.arr


@register("FusedConvChain", since=1, domain=HPC_DOMAIN)
def conv_chain(node: Node, opset: int, ctx: BuildContext) -> Kernel:
    subs: List[Node] = node.attrs.get("nodes") or []
    if len(subs) < 2 or not all(chainable(n, ops=True, constants=ctx.constants) for n in subs):
        raise unsupported(node, opset, "a chain of fewer than two nodes, or of a node no chain runs",
                          f"two or more of {', '.join(CHAINABLE_OPS)} (HPC domain), QuantizeLinear, DequantizeLinear")
    kernels = [lookup(n, opset)(n, opset, ctx) for n in subs]
    convs_only = all(n.op_type == "FusedConv" for n in subs)
    e = len(node.inputs)
    index = {v: i for i, v in enumerate(node.inputs)}  # value -> position in `arrays`
    for j, n in enumerate(subs):
        index[n.outputs[0]] = e + j
    # Per sub-node: positions of its X and second input (a residual or skip tensor; -1: none) in
    # `arrays` = inputs + sub outputs.
    refs = [(index[n.inputs[0]], index[second_input(n)] if second_input(n) else -1) for n in subs]
    last_read = [0] * len(subs)  # step after which intermediate j is dead
    for i, (x, r) in enumerate(refs):
        for v in (x, r):
            if v >= e:
                last_read[v - e] = max(last_read[v - e], i)
    prepared: Dict[tuple, _Prepared] = {}
    arrays = None  # a device backend's arrays (kernels/backends/device.py), else None
    if ctx.backend is not None:
        from ... import _dispatch

        arrays = getattr(_dispatch.get_backend(ctx.backend), "device_arrays", None)

    def run_device(inputs, ws):
        """The steps on device arrays; None where a step cannot run there (a broadcasting residual)."""
        place = arrays.default_place()
        with arrays.on(place):
            vals: List[object] = [arrays.upload(place, np.ascontiguousarray(a)) for a in inputs]
            for j, (x, r) in enumerate(refs):
                y = kernels[j].on_device(vals[x], vals[r] if r >= 0 else None)
                if y is None:
                    return None
                vals.append(y)
                for i in range(j + 1):  # device memory of values no later step reads
                    if last_read[i] == j and i < len(subs) - 1:
                        vals[e + i] = None
            host = arrays.download(vals[-1])
        out = ws.output(0, host.shape, host.dtype)
        out[...] = host
        return [out]

    def prepare(inputs) -> _Prepared:
        shapes = [tuple(a.shape) for a in inputs]
        dtypes = [a.dtype for a in inputs]
        steps: Optional[list] = []
        for j, (x, r) in enumerate(refs):
            # A step gives (out shape, step) with its X's dtype out, or (out shape, step, out dtype).
            made = kernels[j].step(shapes[x], dtypes[x], shapes[r] if r >= 0 else None)
            out_shape, step = made[0], made[1]
            shapes.append(out_shape)
            dtypes.append(np.dtype(made[2]) if len(made) > 2 else dtypes[x])
            if step is None:
                steps = None
            elif steps is not None and subs[j].op_type == "FusedConv":
                w, stride, pad, dil, algo = step
                steps.append((w, x, e + j, r, stride, pad, dil, algo))
            elif steps is not None and step[0] in ("qconv", "qgemm"):  # (kind, x, out, skip or -1, parameters...)
                steps.append((step[0], x, e + j, r) + tuple(step[1:]))
            elif steps is not None:  # an op step: (kind, x, out, parameters...)
                steps.append((step[0], x, e + j) + tuple(step[1:]))
        # Slots for the intermediates (the last output is the node's own ws.output).
        slot_of, slot_bytes, free = [-1] * len(subs), [], []
        for j in range(len(subs) - 1):
            need = int(np.prod(shapes[e + j])) * dtypes[e + j].itemsize
            s = next((s for s in free if slot_bytes[s] >= need), free[0] if free else None)
            if s is None:
                s = len(slot_bytes)
                slot_bytes.append(0)
            else:
                free.remove(s)
            slot_bytes[s] = max(slot_bytes[s], need)
            slot_of[j] = s
            # Slots whose value step j read for the last time are free for step j + 1's output
            # (not for j's own: a step never writes a buffer it reads). An op step's output keeps
            # its slot: it may be the x of a banded run of convolutions, which reads x while it
            # writes its last step's output, so C++ runs the steps unbanded where the two overlap
            # (MobileNetV2's stem lost its band to the relayout's slot: 1.17 -> 1.23 ms). The 8-bit
            # convolutions' outputs are freed like the float ones' (no banded run reads 8-bit
            # values): kept, a QDQ ResNet-50's 53 intermediates took 6 MiB more peak memory.
            free.extend(slot_of[i] for i in range(j + 1) if last_read[i] == j and i != len(subs) - 1 and slot_of[i] >= 0
                        and subs[i].op_type in _FREED_SLOTS)
        return _Prepared(shapes, dtypes, slot_of, slot_bytes, steps)

    def prepared_for(inputs) -> _Prepared:
        key = tuple((a.shape, a.dtype.str) for a in inputs) if all(isinstance(a, np.ndarray) for a in inputs) else None
        p = prepared.get(key) if key is not None else None
        if p is None:
            p = prepare([np.asarray(a) for a in inputs])
            if key is not None and len(prepared) < _CACHE_LIMIT:
                prepared[key] = p
        return p

    def views_in(p: _Prepared, buf: np.ndarray) -> list:
        """The intermediates' arrays in the scratch buffer buf (cached per buffer)."""
        views = p.views.get(id(buf))
        if views is None:
            base = (-buf.ctypes.data) % _SLOT_ALIGN  # slot offsets count from a cache line
            views = []
            for j in range(len(subs) - 1):
                start, dt = base + p.offsets[p.slot_of[j]], p.dtypes[e + j]
                views.append(buf[start: start + int(np.prod(p.shapes[e + j])) * dt.itemsize].view(dt).reshape(p.shapes[e + j]))
            if len(p.views) < _CACHE_LIMIT:
                p.views[id(buf)] = views
        return views

    def program_of(p: _Prepared):
        """p's steps as a hpc_kernels._cpu.ChainProgram (parsed once; each step's checks kept while its
        arrays are the same)."""
        if p.program is None:
            from ...backends.cpu import _cpu

            p.program = _cpu.ChainProgram(p.steps, e)
        return p.program

    def band_bytes() -> int:
        band = _config.config.conv_band_bytes
        return -1 if band is None else band

    def run_cpu(p: _Prepared, operands: list) -> List[float]:
        return program_of(p).run(operands, band_bytes())

    def direct(inputs):
        """(output, seconds per step) of a cpu chain run on the program's own intermediates, for a
        session whose graph is this one node (InferenceSession.run's direct path: no Workspace, no
        arena); None where that does not apply (a device backend, the Python path, strided inputs,
        or another thread running the program: that run takes the general path). Once it ran,
        direct.bound is the program, whose run_feed the session calls with its feed alone."""
        if arrays is not None or not all(type(a) is np.ndarray and a.flags.c_contiguous for a in inputs):
            return None
        p = prepared_for(inputs)
        if p.steps is None:
            return None
        prog = program_of(p)
        if not p.bound:
            # Only the shapes and dtypes of the inputs and the output are bound: broadcast views.
            like = [np.broadcast_to(np.empty((), a.dtype), a.shape) for a in inputs]
            out_like = np.broadcast_to(np.empty((), p.dtypes[-1]), p.shapes[-1])
            own = np.empty(p.total + _SLOT_ALIGN, np.uint8)
            if not prog.bind(like + views_in(p, own) + [out_like], len(inputs), band_bytes()):
                return None
            p.bound = True
        done = prog.run_direct(inputs)
        if done is not None:
            direct.bound = prog
        return done

    def programs() -> list:
        """The programs made so far (one per input shape), for the session's profile."""
        return [p.program for p in list(prepared.values()) if p.program is not None]

    direct.bound = None
    direct.programs = programs

    def run(inputs, ws):
        if arrays is not None and convs_only and all(isinstance(a, np.ndarray) for a in inputs):
            done = run_device(inputs, ws)
            if done is not None:
                return done
        # External inputs C-contiguous (a copy only of a strided feed): every step's entry takes
        # those, some (quantize_linear) only those.
        inputs = [a if not isinstance(a, np.ndarray) or a.flags.c_contiguous else np.ascontiguousarray(a) for a in inputs]
        p = prepared_for(inputs)
        views = views_in(p, ws.scratch((p.total + _SLOT_ALIGN,), np.uint8))
        out = ws.output(0, p.shapes[-1], p.dtypes[-1])
        operands = list(inputs) + views + [out]
        if p.steps is not None and all(type(a) is np.ndarray for a in inputs):
            ws.sub_times = run_cpu(p, operands)
        else:
            for j, (x, r) in enumerate(refs):
                args = [operands[x]] + [None] * (len(subs[j].inputs) - 1)  # the other inputs: constants it holds
                if r >= 0:
                    args[_SECOND_INPUT[subs[j].op_type]] = operands[r]
                kernels[j](args, _Outputs(operands[e + j], subs[j], ws))
        return [out]

    run.direct = direct
    return run
