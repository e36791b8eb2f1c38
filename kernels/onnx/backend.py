"""The ONNX backend module (onnx.backend.base's form) over InferenceSession, so that
`onnx.backend.test.BackendTest(hpc_kernels.onnx.backend, __name__)` runs the ONNX backend suite."""
from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep

from ._load import MIN_OPSET
from ._registry import UnsupportedModelError
from ._session import InferenceSession


class HpcKernelsRep(BackendRep):
    """A prepared model: run(inputs) with inputs a list (graph input order) or a dict by name."""

    def __init__(self, session: InferenceSession) -> None:
        self.session = session

    def run(self, inputs: Any, **kwargs: Any) -> Tuple[np.ndarray, ...]:
        names = [i.name for i in self.session.get_inputs()]
        if isinstance(inputs, dict):
            feed = dict(inputs)
        else:
            if isinstance(inputs, np.ndarray):
                inputs = [inputs]
            feed = dict(zip(names, inputs))
        return tuple(self.session.run(None, feed))


class HpcKernelsBackend(Backend):
    """Runs on the CPU through hpc_kernels (backend= and threads= pass through prepare's kwargs)."""

    @classmethod
    def is_compatible(cls, model: Any, device: str = "CPU", **kwargs: Any) -> bool:
        try:
            cls.prepare(model, device, **kwargs)
        except (UnsupportedModelError, NotImplementedError):
            return False
        return True

    @classmethod
    def prepare(cls, model: Any, device: str = "CPU", **kwargs: Any) -> HpcKernelsRep:
        if not cls.supports_device(device):
            raise NotImplementedError(f"device {device!r}: hpc_kernels.onnx.backend runs on CPU")
        opts = {k: kwargs[k] for k in ("backend", "threads", "layout") if k in kwargs}
        return HpcKernelsRep(InferenceSession(model, **opts))

    @classmethod
    def run_model(cls, model: Any, inputs: Any, device: str = "CPU", **kwargs: Any) -> Tuple[np.ndarray, ...]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node: Any, inputs: Any, device: str = "CPU",
                 outputs_info: Optional[Sequence[Tuple[np.dtype, Tuple[int, ...]]]] = None, **kwargs: Any) -> Tuple[np.ndarray, ...]:
        """One node as a one-node model whose inputs are typed from the given arrays."""
        arrays = list(inputs.values()) if isinstance(inputs, dict) else list(inputs)
        names = [n for n in node.input if n]
        vis = [onnx.helper.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(np.asarray(a).dtype), np.shape(a))
               for n, a in zip(names, arrays)]
        outs = []
        for i, n in enumerate(node.output):
            if outputs_info and i < len(outputs_info):
                dt, shape = outputs_info[i]
                outs.append(onnx.helper.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dt)), shape))
            else:
                outs.append(onnx.helper.make_empty_tensor_value_info(n))
        opset = kwargs.pop("opset_version", None) or onnx.defs.onnx_opset_version()
        graph = onnx.helper.make_graph([node], "run_node", vis, outs)
        model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", max(opset, MIN_OPSET))])
        return cls.run_model(model, dict(zip(names, arrays)), device, **kwargs)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return str(device).upper().split(":")[0] == "CPU"


prepare = HpcKernelsBackend.prepare
run_model = HpcKernelsBackend.run_model
run_node = HpcKernelsBackend.run_node
supports_device = HpcKernelsBackend.supports_device
is_compatible = HpcKernelsBackend.is_compatible

__all__ = ["HpcKernelsBackend", "HpcKernelsRep", "is_compatible", "prepare", "run_model", "run_node", "supports_device"]
