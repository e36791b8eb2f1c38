"""The zoo's CNNs (hpc_kernels.onnx.zoo: ResNet, MobileNet, DenseNet, ... in plain PyTorch, exported to ONNX)
through hpc_kernels.onnx.InferenceSession against onnxruntime, at batch 1 and 3 and odd image sizes, on every
host backend and every ISA cap of the cpu engine.

Two forms: the default (CI) run is every network but VGG-16 at batch 1 and 3 on the cpu backend, the ISA
caps and the slow backends (numba, opencl, reference) on two small networks at small sizes, and every
network at its minimum size (57 tests: 24 s with warm numba and PoCL kernel caches, about 100 s cold, on
2 shared Zen 5 cores); with KERNELS_ONNX_ZOO=full every network runs on every backend and ISA cap at
batch 1 and 3 (165 tests, 184 s; VGG-16, whose fixed 224x224 input is left out of the reference backend
only, takes about two thirds of that time).

Bound: max |ours - onnxruntime| <= RTOL * max |onnxruntime| over the output (float32 both). The two
runtimes sum in different orders (GEMM blocking, direct vs im2col convolution, BN folded into the
weights or applied as a node), so each output carries a few float32 roundings (eps 1.2e-7) per layer,
growing with the reduction lengths and the depth; measured at batch 3 on cpu, numba, opencl and
reference: 2.3e-7 (SqueezeNet 1.1) to 3.7e-6 (MobileNetV2). RTOL = 1e-4 leaves 25x room over the
worst case and still catches a small bug: one BatchNormalization shift off by 0.05 in one of ResNet-18's
20 layers exceeds it more than tenfold (test_bound_catches_a_wrong_kernel)."""
from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from _helpers import ISAS  # noqa: E402
from _opencl import requires_opencl  # noqa: E402

from hpc_kernels.onnx import InferenceSession, zoo  # noqa: E402

FULL = os.environ.get("KERNELS_ONNX_ZOO") == "full"
RTOL = 1e-4
BATCHES = (1, 3)
SMALL_NETS = ("squeezenet1_1", "mobilenetv3_small")  # the reduced form's nets for caps and slow backends


def odd_size(name: str):
    """97x113 (odd, not a multiple of any stride) where the network allows; VGG-16's fixed size."""
    spec = zoo.SPECS[name]
    return spec.fixed_hw or (97, 113)


def small_size(name: str):
    """The slow backends' size: a small odd size at least the network's minimum (VGG-16: fixed)."""
    spec = zoo.SPECS[name]
    if spec.fixed_hw:
        return spec.fixed_hw
    return (max(33, spec.min_hw[0] | 1), max(41, spec.min_hw[1] | 1))


@pytest.fixture(scope="session")
def zoo_model(tmp_path_factory):
    """`zoo_model(name)`: the path of the exported ONNX model (batch, height, width dynamic), exported once per session."""
    folder = tmp_path_factory.mktemp("zoo")
    cache = {}

    def get(name: str) -> str:
        if name not in cache:
            h, w = odd_size(name)
            cache[name] = zoo.export(name, folder / f"{name}.onnx", batch=1, height=h, width=w)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def ort_output():
    """`ort_output(path, x)`: onnxruntime's output (one thread: other tests' runs are not disturbed), cached per session."""
    sessions, cache = {}, {}

    def get(path: str, x: np.ndarray) -> np.ndarray:
        key = (path, x.shape)
        if key not in cache:
            if path not in sessions:
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = opts.inter_op_num_threads = 1
                sessions[path] = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
            s = sessions[path]
            cache[key] = s.run(None, {s.get_inputs()[0].name: x})[0]
        return cache[key]

    return get


def image(batch: int, hw) -> np.ndarray:
    return np.random.default_rng(batch * 1000 + hw[0]).standard_normal((batch, 3, *hw)).astype(np.float32)


def check(path: str, x: np.ndarray, ref: np.ndarray, backend=None) -> float:
    got = InferenceSession(path, backend=backend).run(None, {"input": x})[0]
    assert got.shape == ref.shape and got.dtype == np.float32
    scale = float(np.abs(ref).max())
    assert scale > 0 and np.isfinite(got).all()
    err = float(np.abs(got - ref).max()) / scale
    assert err <= RTOL, f"max error {err:.3g} of the output's magnitude {scale:.3g} (bound {RTOL})"
    return err


def _cases(nets, backends, sizes):
    return [pytest.param(n, b, batch, id=f"{n}-{b}-b{batch}", marks=[requires_opencl] if b == "opencl" else [])
            for n in nets for b in backends for batch in BATCHES
            if not (b == "reference" and zoo.SPECS[n].fixed_hw and sizes == "small")]


NETS = zoo.NAMES if FULL else tuple(n for n in zoo.NAMES if n != "vgg16")


@pytest.mark.parametrize("name,backend,batch", _cases(NETS, ["cpu"], "odd"))
def test_network_cpu(name, backend, batch, zoo_model, ort_output):
    """Every network (the default run: all but VGG-16) at 97x113 on the cpu backend's default engine."""
    path = zoo_model(name)
    x = image(batch, odd_size(name))
    check(path, x, ort_output(path, x), backend)


@pytest.mark.parametrize("isa", [i for i in ("generic", "avx2", "avx512") if i in ISAS])
@pytest.mark.parametrize("name,batch", [(n, b) for n in (NETS if FULL else SMALL_NETS) for b in BATCHES])
def test_network_cpu_isa_cap(name, batch, isa, cpu_config, zoo_model, ort_output):
    """The cpu engine capped at each ISA this machine runs (what KERNELS_CPU_ISA sets at import, set here
    in-process by the suite's cpu_config fixture, defaults restored after); the session is built
    under the cap, so weights packed at load use the capped micro-kernels."""
    cpu_config(isa)
    path = zoo_model(name)
    hw = odd_size(name) if FULL else small_size(name)
    x = image(batch, hw)
    check(path, x, ort_output(path, x), "cpu")


@pytest.mark.parametrize("name,backend,batch", _cases(NETS if FULL else SMALL_NETS, ["numba", "opencl", "reference"], "small"))
def test_network_slow_backends(name, backend, batch, zoo_model, ort_output):
    """numba, opencl (PoCL where there is no GPU; skipped without a platform) and the NumPy reference
    backend, at small odd sizes."""
    if backend == "numba":
        pytest.importorskip("numba")
    path = zoo_model(name)
    x = image(batch, small_size(name))
    check(path, x, ort_output(path, x), backend)


@pytest.mark.parametrize("name", [n for n in zoo.NAMES if not zoo.SPECS[n].fixed_hw])
def test_network_min_size(name, zoo_model, ort_output):
    """The smallest image the zoo accepts (zoo.SPECS[name].min_hw; every spatial map down to 1x1), batch 2."""
    path = zoo_model(name)
    x = image(2, zoo.SPECS[name].min_hw)
    check(path, x, ort_output(path, x))


def test_bound_catches_a_wrong_kernel(zoo_model, ort_output):
    """RTOL separates rounding from a bug: the output of a model with one BatchNormalization's
    shift changed by 0.05 (a small bias error in one of 20 layers) fails it."""
    import onnx
    from onnx import numpy_helper

    path = zoo_model("resnet18")
    m = onnx.load(path)
    bn = next(n for n in m.graph.node if n.op_type == "BatchNormalization")
    inits = {t.name: t for t in m.graph.initializer}
    beta = inits[bn.input[2]]
    beta.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(beta) + np.float32(0.05), beta.name))
    x = image(1, (33, 41))
    wrong = InferenceSession(m.SerializeToString()).run(None, {"input": x})[0]
    ref = ort_output(path, x)
    assert float(np.abs(wrong - ref).max()) / float(np.abs(ref).max()) > 10 * RTOL


def test_bn_stays_a_node_and_shapes_are_dynamic(zoo_model):
    """The export keeps BatchNormalization nodes (the runtime's folding is what runs) and declares
    batch, height and width symbolic."""
    import onnx

    m = onnx.load(zoo_model("resnet18"))
    assert sum(n.op_type == "BatchNormalization" for n in m.graph.node) == 20
    dims = [d.dim_param or d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, "height", "width"]


def test_export_static_shapes_opset_and_size_checks(tmp_path):
    """dynamic=False fixes every dimension, opset= sets the ai.onnx version; sizes a model cannot take and
    unknown names are refused before torch builds anything."""
    import onnx

    m = onnx.load(zoo.export("squeezenet1_1", tmp_path / "s.onnx", batch=2, height=33, width=41, dynamic=False, opset=13))
    assert [d.dim_param or d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim] == [2, 3, 33, 41]
    assert [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")] == [13]
    with pytest.raises(ValueError, match="vgg16 takes 224x224 images only"):
        zoo.export("vgg16", tmp_path / "v.onnx", batch=1, height=100, width=100)
    with pytest.raises(ValueError, match="at least 21x21"):
        zoo.export("squeezenet1_1", tmp_path / "s2.onnx", batch=1, height=20, width=41)
    with pytest.raises(ValueError, match="unknown zoo model 'alexnet'"):
        zoo.export("alexnet", tmp_path / "a.onnx")
