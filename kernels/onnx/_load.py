"""ONNX model (path, bytes or ModelProto) -> Graph: opset, decoded attributes, initializers, graph
interface, a runnable node order, and every node's builder looked up so unsupported models fail here."""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ._ir import Graph, Node, ValueInfo
from ._registry import UnsupportedModelError, lookup

# The oldest ai.onnx opset this runtime implements: its ops are written against the semantics of
# opset 9 on (attributes that later became inputs are read in both forms from there).
MIN_OPSET = 9


class InvalidModelError(ValueError):
    """The bytes or file are not a loadable ONNX model (parse error, missing external data, a graph
    that cannot run in any order)."""


def _onnx():
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - the extra is missing
        raise ImportError('hpc_kernels.onnx needs the onnx package: pip install "hpc-kernels[onnx]"') from exc
    return onnx


def load_proto(model: Any) -> Any:
    """An onnx.ModelProto from a path (external data resolved next to it), bytes or a ModelProto."""
    onnx = _onnx()
    if isinstance(model, onnx.ModelProto):
        return model
    try:
        if isinstance(model, (bytes, bytearray, memoryview)):
            proto = onnx.load_from_string(bytes(model))
        elif isinstance(model, (str, os.PathLike)):
            path = os.fspath(model)
            if not os.path.isfile(path):
                raise InvalidModelError(f"no ONNX model file at {path!r}")
            proto = onnx.load(path, load_external_data=True)
        else:
            raise TypeError(f"model must be a path, bytes or an onnx.ModelProto, got {type(model).__name__}")
    except (InvalidModelError, TypeError):
        raise
    except Exception as exc:  # protobuf's DecodeError and onnx's own checks
        if isinstance(exc, FileNotFoundError) or "should be stored in" in str(exc):
            raise InvalidModelError(f"the model's external data is missing: {exc}") from exc
        raise InvalidModelError(f"not a valid ONNX model: {type(exc).__name__}: {exc}") from exc
    return proto


def _opset(proto: Any) -> int:
    versions = {imp.domain or "ai.onnx": imp.version for imp in proto.opset_import}
    if "ai.onnx" not in versions:
        raise UnsupportedModelError("the model imports no ai.onnx opset (opset_import has no default domain)")
    v = int(versions["ai.onnx"])
    if v < MIN_OPSET:
        raise UnsupportedModelError(
            f"the model uses ai.onnx opset {v}; this runtime supports opset {MIN_OPSET} and newer "
            "(convert it with onnx.version_converter.convert_version)"
        )
    return v


def np_dtype(elem_type: int) -> np.dtype:
    """The NumPy dtype of an ONNX TensorProto element type (UnsupportedModelError for strings,
    bfloat16, float8 and the other types NumPy has no dtype for)."""
    onnx = _onnx()
    name = onnx.TensorProto.DataType.Name(elem_type) if elem_type in onnx.TensorProto.DataType.values() else str(elem_type)
    if name in ("STRING", "BFLOAT16", "UNDEFINED") or name.startswith(("FLOAT8", "UINT4", "INT4", "FLOAT4", "COMPLEX")):
        raise UnsupportedModelError(f"tensor element type {name} is not supported (no NumPy kernel for it)")
    return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type))


def _value_info(vi: Any, typed: bool = True) -> ValueInfo:
    t = vi.type
    if not typed and not t.HasField("tensor_type"):
        return ValueInfo(vi.name, None, None)  # type: ignore[arg-type]  # an output left to inference
    if not t.HasField("tensor_type"):
        raise UnsupportedModelError(f"value {vi.name!r}: only tensor inputs/outputs are supported, got {t.WhichOneof('value')}")
    tt = t.tensor_type
    try:
        dtype = np_dtype(tt.elem_type) if typed or tt.elem_type else None
    except UnsupportedModelError as exc:
        raise UnsupportedModelError(f"value {vi.name!r}: {exc}") from None
    shape: Optional[Tuple[Any, ...]] = None
    if tt.HasField("shape"):
        shape = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim)
    return ValueInfo(vi.name, dtype, shape)


def _attr(node_proto: Any, a: Any) -> Any:
    onnx = _onnx()
    A = onnx.AttributeProto
    if a.type == A.TENSOR:
        return onnx.numpy_helper.to_array(a.t)
    if a.type == A.TENSORS:
        return [onnx.numpy_helper.to_array(t) for t in a.tensors]
    if a.type in (A.GRAPH, A.GRAPHS, A.SPARSE_TENSOR, A.SPARSE_TENSORS, A.TYPE_PROTO, A.TYPE_PROTOS):
        raise UnsupportedModelError(
            f"node {node_proto.name or node_proto.output[0]!r} ({node_proto.op_type}): attribute {a.name!r} of type "
            f"{A.AttributeType.Name(a.type)} is not supported; supported: int, float, string, tensor attributes"
        )
    v = onnx.helper.get_attribute_value(a)
    if a.type == A.STRING:
        return v.decode("utf-8", "replace")
    if a.type == A.STRINGS:
        return [s.decode("utf-8", "replace") for s in v]
    if a.type == A.INTS:
        return [int(i) for i in v]
    if a.type == A.FLOATS:
        return [float(f) for f in v]
    return v


def _runnable_order(nodes: List[Node], available: set) -> List[Node]:
    """`nodes` as given when every input is produced before use, else sorted topologically
    (Kahn's algorithm, keeping the given order among ready nodes)."""
    have = set(available)
    for n in nodes:
        if not all(not i or i in have for i in n.inputs):
            break
        have.update(o for o in n.outputs if o)
    else:
        return nodes
    have, pending, order = set(available), list(nodes), []
    while pending:
        ready = [n for n in pending if all(not i or i in have for i in n.inputs)]
        if not ready:
            missing = sorted({i for n in pending for i in n.inputs if i and i not in have})
            raise InvalidModelError(f"the graph cannot run in any order: values {missing[:8]} are never produced (or form a cycle)")
        for n in ready:
            have.update(o for o in n.outputs if o)
        order.extend(ready)
        ids = {id(n) for n in ready}
        pending = [n for n in pending if id(n) not in ids]
    return order


# Initializers above this many elements go to shape inference as typed graph inputs, not values:
# inference reads the values of small shape-like tensors only (Reshape's shape, Slice's starts...),
# and handing it the weights made it serialize and parse a whole copy of the model (ResNet-50:
# ~300 MB more at the load's peak).
_INFER_VALUE_LIMIT = 4096


def _without_weights(proto: Any) -> Any:
    """A copy of the model for shape inference: the graph's nodes and interface, small initializers
    as they are, large ones declared as inputs of their type and shape."""
    onnx = _onnx()
    g = proto.graph
    light = onnx.ModelProto(ir_version=proto.ir_version)
    light.opset_import.extend(proto.opset_import)
    lg = light.graph
    lg.node.extend(g.node)
    lg.input.extend(g.input)
    lg.output.extend(g.output)
    lg.value_info.extend(g.value_info)
    declared = {vi.name for vi in g.input}
    for t in g.initializer:
        if int(np.prod(t.dims, dtype=np.int64)) <= _INFER_VALUE_LIMIT:
            lg.initializer.append(t)
        elif t.name not in declared:
            lg.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    return light


def _shapes(proto: Any) -> Dict[str, ValueInfo]:
    """Shapes of intermediate values that ONNX shape inference can tell (used by constant folding
    of Shape); empty when inference fails."""
    onnx = _onnx()
    try:
        inferred = onnx.shape_inference.infer_shapes(_without_weights(proto), strict_mode=False)
    except Exception:
        return {}
    out = {}
    for vi in inferred.graph.value_info:
        try:
            out[vi.name] = _value_info(vi)
        except UnsupportedModelError:
            pass
    return out


def to_graph(proto: Any) -> Graph:
    """The Graph of a ModelProto; raises UnsupportedModelError naming the node, op, opset and what
    is supported for the first node this runtime cannot run."""
    onnx = _onnx()
    opset = _opset(proto)
    g = proto.graph
    for t in g.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            raise InvalidModelError(
                f"initializer {t.name!r} has external data that is not loaded: pass the model's path (its data "
                "files next to it), or call onnx.load_external_data_for_model first"
            )
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in g.initializer}
    for t in g.initializer:
        try:
            np_dtype(t.data_type)  # raises for string/bfloat16 initializers
        except UnsupportedModelError as exc:
            raise UnsupportedModelError(f"initializer {t.name!r}: {exc}") from None
    inputs = [_value_info(vi) for vi in g.input if vi.name not in inits]  # IR < 4 lists initializers as inputs
    outputs = [_value_info(vi, typed=False) for vi in g.output]
    nodes = []
    for np_ in g.node:
        domain = "" if np_.domain in ("", "ai.onnx") else np_.domain
        attrs = {a.name: _attr(np_, a) for a in np_.attribute}
        nodes.append(Node(np_.op_type, list(np_.input), list(np_.output), attrs, np_.name, domain))
    nodes = _runnable_order(nodes, set(inits) | {v.name for v in inputs})
    for n in nodes:
        lookup(n, opset)  # unknown ops and domains fail here; builders check attributes later at load
    return Graph(nodes, inputs, outputs, inits, opset, g.name, _shapes(proto))


def load(model: Any) -> Graph:
    """path, bytes or ModelProto -> Graph."""
    return to_graph(load_proto(model))
