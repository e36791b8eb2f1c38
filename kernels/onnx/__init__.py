"""ONNX inference on the kernels: InferenceSession (onnxruntime's interface) and an ONNX backend
module (`hpc_kernels.onnx.backend`) for the ONNX backend test suite. Needs `pip install "hpc-kernels[onnx]"`."""
from __future__ import annotations

from ._ir import HPC_DOMAIN, Graph, Node, ValueInfo
from ._load import InvalidModelError
from ._registry import UnsupportedModelError
from ._reports import NodeArg, Profile
from ._session import InferenceSession

__all__ = ["HPC_DOMAIN", "Graph", "InferenceSession", "InvalidModelError", "Node", "NodeArg", "Profile",
           "UnsupportedModelError", "ValueInfo"]
