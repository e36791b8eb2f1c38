"""The demo's three stages as plain functions of NumPy arrays and a backend name: the workers run
them with kernels' kernels, the checks rerun them on the reference backend. The inference stage's CNN
also exists as an ONNX model (cnn_onnx), which the workers run through hpc_kernels.onnx."""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np

import hpc_kernels

ALPHA = 0.2  # diffusion number; explicit 5-point heat stencils are stable for ALPHA <= 0.25


def initial_fields(batch: int, size: int, seed: int = 0, dtype=np.float32) -> np.ndarray:
    """(batch, 1, size, size) temperature fields: a few Gaussian hot spots each, at random places."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    fields = np.zeros((batch, 1, size, size), np.float64)
    for b in range(batch):
        for _ in range(3):
            cy, cx, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.03, 0.1)
            fields[b, 0] += rng.uniform(0.5, 1.0) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    return fields.astype(dtype)


def heat_stencil(dtype) -> np.ndarray:
    """u_new = u + ALPHA * laplacian(u) as one 3x3 convolution (1, 1, 3, 3)."""
    a = ALPHA
    return np.array([[[[0, a, 0], [a, 1 - 4 * a, a], [0, a, 0]]]], dtype=dtype)


def simulate(fields: np.ndarray, steps: int, every: int, backend: Optional[str] = None) -> np.ndarray:
    """Advance (B, 1, H, W) fields `steps` explicit heat steps (zero boundary: padding=1 adds a cold
    rim); the snapshots every `every` steps, (steps // every, B, H, W)."""
    w = heat_stencil(fields.dtype)
    u, snaps = fields, []
    for t in range(1, steps + 1):
        u = hpc_kernels.conv2d(u, w, padding=1, backend=backend)
        if t % every == 0:
            snaps.append(u[:, 0])
    return np.stack(snaps)


def pca_from_gram(x: np.ndarray, gram: np.ndarray, components: int, backend: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray]:
    """PCA of centred samples x (n, features) from their Gram matrix x x^T (n, n): the principal
    axes (components, features) = V^T x / sqrt(lambda) by one GEMM, and the explained variance
    ratios. The eigenproblem is n x n (samples), not features x features."""
    lam, v = np.linalg.eigh(gram.astype(np.float64))
    order = np.argsort(lam)[::-1][:components]
    lam, v = lam[order], v[:, order]
    scaled = (v / np.sqrt(np.maximum(lam, 1e-30))).T.astype(x.dtype)  # (components, n)
    axes = hpc_kernels.gemm(scaled, x, backend=backend)
    return axes, lam / max(float(np.trace(gram)), 1e-30)


def cnn_params(dtype, seed: int = 1) -> Dict[str, np.ndarray]:
    """A small fixed CNN: 3x3 conv 1->8 + ReLU, 3x3/2 conv 8->16 + ReLU, global mean, dense 16->4."""
    rng = np.random.default_rng(seed)
    return {
        "w1": (rng.standard_normal((8, 1, 3, 3)) / 3).astype(dtype), "b1": (0.1 * rng.standard_normal(8)).astype(dtype),
        "w2": (rng.standard_normal((16, 8, 3, 3)) / 8.5).astype(dtype), "b2": (0.1 * rng.standard_normal(16)).astype(dtype),
        "w3": (rng.standard_normal((16, 4)) / 4).astype(dtype),
    }


def cnn(fields: np.ndarray, p: Dict[str, np.ndarray], backend: Optional[str] = None) -> np.ndarray:
    """Class scores (B, 4) of (B, 1, H, W) fields: conv2d layers with fused bias + ReLU, then a GEMM."""
    h = hpc_kernels.conv2d(fields, p["w1"], p["b1"], padding=1, activation="relu", backend=backend)
    h = hpc_kernels.conv2d(h, p["w2"], p["b2"], stride=2, padding=1, activation="relu", backend=backend)
    pooled = np.ascontiguousarray(h.mean(axis=(2, 3)))
    return hpc_kernels.gemm(pooled, p["w3"], backend=backend)


def cnn_onnx(p: Dict[str, np.ndarray]) -> bytes:
    """The CNN of cnn() as a serialized ONNX model (input "fields" (batch, 1, height, width), output
    "scores" (batch, 4), opset 17), built with onnx.helper from the same weights: Conv + Relu, Conv
    stride 2 + Relu, GlobalAveragePool, Flatten, MatMul. No torch: the model is its NumPy weights, so
    writing the graph by hand is exact and needs only onnx."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("Conv", ["fields", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w3"], ["scores"]),
    ]
    elem = helper.np_dtype_to_tensor_dtype(p["w1"].dtype)
    graph = helper.make_graph(
        nodes, "demo_cnn",
        [helper.make_tensor_value_info("fields", elem, ["batch", 1, "height", "width"])],
        [helper.make_tensor_value_info("scores", elem, ["batch", 4])],
        [numpy_helper.from_array(p[k], k) for k in ("w1", "b1", "w2", "b2", "w3")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="hpc_kernels demo")
    onnx.checker.check_model(model)
    return model.SerializeToString()
