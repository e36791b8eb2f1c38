"""int8 GEMM speed (u8 x s8 -> s32) against onnxruntime's MatMulInteger and torch's fbgemm
quantized linear, in one run, and as a fraction of this CPU's int8 peak (the AMX tile unit's TDPBUSD
throughput where our AMX kernels run, else vpdpbusd throughput).

    python benchmarks/int8_gemm_vs_refs.py                 # n = 1024, 1 thread, 15 rounds
    python benchmarks/int8_gemm_vs_refs.py --sizes 512 1024 2048 --rounds 25 --json out.json
    python benchmarks/int8_gemm_vs_refs.py --shapes resnet50 --rounds 7   # ResNet-50's im2col GEMMs

A shape (m, k, n) is an activation matrix a (m x k, u8: im2col rows, one per output pixel) times
weights b (k x n, s8: n output channels); the square sizes are m = k = n. With --shapes, the
figures of every layer are followed by the totals over the network (each layer's time times its
count in the shapes file).

One thread everywhere (onnxruntime intra_op_num_threads=1, torch.set_num_threads(1),
hpc_kernels.num_threads(1)), each of which runs on the calling thread, so every sample is the
calling thread's CPU time (time.thread_time): on a shared machine wall time would count the time
slices other jobs ran. The libraries are timed interleaved, round by round, so a noisy neighbour
(an SMT sibling) slows all alike; the figure is the median over rounds and the spread max/min over
rounds is printed beside it. The peak is hpc_kernels._cpu.int8_peak (its own CPU-time probe),
measured in the same run. What each library computes:
  ours int32: hpc_kernels.qgemm(a, b, a_zero_point=zp) -> int32       (MatMulInteger's semantics)
  ours u8:    hpc_kernels.qgemm(..., a_scale, b_scale, out_scale)      (requantized, torch's linear)
  ours int32 prepacked: hpc_kernels.QConv2d 1x1 NHWC plan (weights packed once, as onnxruntime
              packs its constant B and torch its linear_prepack), x = a as (1, 1, n, k) -> int32
  ours int32 bound: the same plan bound to x's shape and dtype (QConv2d.bind, what an ONNX
              session runs: the arguments checked once, ~3.5 us a call against ~8 us unbound;
              onnxruntime's session.run of one MatMulInteger costs ~5 us)
  ort:        onnxruntime MatMulInteger, a u8 (zero point), b s8 -> int32
  torch:      torch.ops.quantized.linear (fbgemm), quint8 x qint8 (prepacked) -> quint8
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Callable, Dict, List

import numpy as np

import hpc_kernels
from hpc_kernels import _cpu


def timed(fns: Dict[str, Callable[[], object]], rounds: int, sample_s: float) -> Dict[str, List[float]]:
    """Thread CPU seconds per call, one sample (the mean of back-to-back calls lasting about
    sample_s) per round per fn, interleaved."""
    reps = {}
    for name, fn in fns.items():
        fn()
        t0 = time.thread_time()
        fn()
        reps[name] = max(1, int(sample_s / max(time.thread_time() - t0, 1e-6)))
    out: Dict[str, List[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.thread_time()
            for _ in range(reps[name]):
                fn()
            out[name].append((time.thread_time() - t0) / reps[name])
    return out


def ort_matmul_integer(a: np.ndarray, b: np.ndarray, a_zp: int):
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    m, k = a.shape
    n = b.shape[1]
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["A", "B", "azp"], ["Y"])], "mmi",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, [m, k])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, [m, n])],
        [helper.make_tensor("B", TensorProto.INT8, [k, n], b.tobytes(), raw=True),
         helper.make_tensor("azp", TensorProto.UINT8, [], [a_zp])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return lambda: sess.run(None, {"A": a})[0], ort.__version__


def torch_linear(a: np.ndarray, b: np.ndarray, a_zp: int, sa: float, sb: float, so: float):
    import torch

    torch.backends.quantized.engine = "fbgemm"
    torch.set_num_threads(1)
    xq = torch.quantize_per_tensor(torch.from_numpy(a.astype(np.float32) - a_zp) * sa, sa, a_zp, torch.quint8)
    wq = torch.quantize_per_tensor(torch.from_numpy(np.ascontiguousarray(b.T).astype(np.float32)) * sb, sb, 0, torch.qint8)
    packed = torch.ops.quantized.linear_prepack(wq, None)
    return lambda: torch.ops.quantized.linear(xq, packed, so, 0), torch.__version__


def shape_cases(args) -> List[tuple]:
    """(label, m, k, n, count) per case: the square sizes (count 0: not in the network totals),
    then the shapes files' layers."""
    cases = [(f"n = {n}", n, n, n, 0) for n in (args.sizes or [])]
    for name in args.shapes or []:
        if name != "resnet50":
            raise SystemExit(f"--shapes: unknown shapes {name!r}; known: resnet50")
        from hpc_kernels.bench.cases import resnet50_layers

        cases += [(f"{name} {lay['name']}", lay["N"], lay["K"], lay["M"], lay.get("count", 1)) for lay in resnet50_layers()]
    return cases


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="*", default=None, help="square sizes (default 1024 without --shapes)")
    p.add_argument("--shapes", nargs="*", choices=["resnet50"], help="im2col GEMM shapes (hpc_kernels.bench)")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--sample", type=float, default=0.1, help="seconds per sample (back-to-back calls)")
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args()
    if args.sizes is None and not args.shapes:
        args.sizes = [1024]
    hpc_kernels.set_num_threads(1)
    rng = np.random.default_rng(0)
    amx = _cpu.qinfo()["amx"]
    peak = _cpu.amx_peak("int8", 0.5) if amx else _cpu.int8_peak(0.5)
    unit = "TDPBUSD (AMX)" if amx else "vpdpbusd"
    print(f"int8 kernel: {_cpu.qinfo()['ukernel']}; int8 peak (1 thread, {unit}, CPU time): {peak:.0f} GOP/s")
    results = []
    versions: Dict[str, str] = {}
    totals: Dict[str, float] = {}
    for label, m, k, n, count in shape_cases(args):
        a = rng.integers(0, 256, (m, k), dtype=np.uint8)
        b = rng.integers(-128, 128, (k, n), dtype=np.int8)
        o32, o8 = np.empty((m, n), np.int32), np.empty((m, n), np.uint8)
        plan = hpc_kernels.QConv2d(np.ascontiguousarray(b.T).reshape(n, k, 1, 1), layout="NHWC", x_zero_point=3)
        x4, p32 = a.reshape(1, 1, m, k), o32.reshape(1, 1, m, n)
        bound = plan.bind(x4.shape, x4.dtype)
        fns: Dict[str, Callable[[], object]] = {
            "ours int32": lambda: hpc_kernels.qgemm(a, b, a_zero_point=3, out=o32),
            "ours int32 prepacked": lambda: plan(x4, out=p32),
            "ours int32 bound": lambda: bound(x4, p32),
            "ours u8": lambda: hpc_kernels.qgemm(a, b, a_zero_point=3, a_scale=0.02, b_scale=0.01, out_scale=4.0, out=o8),
        }
        try:
            fns["ort MatMulInteger"], versions["onnxruntime"] = ort_matmul_integer(a, b, 3)
        except ImportError as exc:
            print(f"onnxruntime skipped: {exc}")
        try:
            fns["torch quantized.linear"], versions["torch"] = torch_linear(a, b, 3, 0.02, 0.01, 4.0)
        except (ImportError, RuntimeError) as exc:
            print(f"torch skipped: {exc}")
        t = timed(fns, args.rounds, args.sample)
        ops = 2.0 * m * k * n
        print(f"\n{label}: m {m}, k {k}, n {n} (1 thread, {args.rounds} rounds; GOP/s = 2 m k n / thread CPU time)")
        for name, s in t.items():
            med = statistics.median(s)
            totals[name] = totals.get(name, 0.0) + count * med
            gops = ops / med * 1e-9
            row = dict(case=label, m=m, k=k, n=n, count=count, lib=name, seconds=med, gops=gops,
                       spread=max(s) / min(s), peak_fraction=gops / peak)
            results.append(row)
            print(f"  {name:24s} {gops:8.1f} GOP/s  {100 * gops / peak:5.1f}% of peak  spread {row['spread']:.2f}x")
        for ours in ("ours int32", "ours int32 prepacked", "ours int32 bound"):
            base = statistics.median(t[ours])
            for name in t:
                if not name.startswith("ours"):
                    print(f"  {name} / {ours} time: {statistics.median(t[name]) / base:.2f}")
    if args.shapes:
        print(f"\ntotal over {' '.join(args.shapes)} (each layer's median time x its count):")
        for name, sec in totals.items():
            print(f"  {name:24s} {sec * 1e3:9.3f} ms")
        for ours in ("ours int32", "ours int32 prepacked", "ours int32 bound"):
            for name in totals:
                if not name.startswith("ours"):
                    print(f"  {name} / {ours} total time: {totals[name] / totals[ours]:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(peak_gops=peak, versions=versions, results=results), f, indent=1)


if __name__ == "__main__":
    main()
