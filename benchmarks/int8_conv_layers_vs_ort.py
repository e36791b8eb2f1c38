"""int8 convolution per ResNet-50 layer: hpc_kernels.QConv2d (the plan the ONNX QConv node runs)
against onnxruntime's QLinearConv as a one-node model, both NHWC, in one run.

    python benchmarks/int8_conv_layers_vs_ort.py                     # every layer, 1 thread
    python benchmarks/int8_conv_layers_vs_ort.py --threads 1 2 --layers "l4 3x3 512" conv1
    python benchmarks/int8_conv_layers_vs_ort.py --json out.json

The layers are hpc_kernels/bench/layers/resnet50.json's (batch 1, 224x224 input). Both sides
compute what a QDQ ResNet-50 does per convolution: uint8 activations with a zero point, int8
weights with per-channel scales (symmetric: zero points 0, quantize_static's per_channel=True),
an int32 bias, uint8 output requantized with ReLU folded (ours: activation="relu"; onnxruntime
folds the ReLU into the output clamp: QDQ's zero point 0). onnxruntime runs com.microsoft's
QLinearConv with channels_last=1 (its NHWC kernel, MLAS's symmetric-weights indirect convolution,
what its NhwcTransformer turns a QDQ model's convolutions into), so neither side transposes.

Timing: at 1 thread each library runs on the calling thread, and every sample is that thread's CPU
time (time.thread_time: on a shared machine wall time would count other jobs' slices); at 2
threads, wall time (perf_counter). A sample is the mean of back-to-back calls lasting about
--sample seconds; the libraries are timed interleaved, round by round, the figure is the median
over rounds and the spread max/min over rounds. GOP/s = 2 * K * (C/groups) * R * S * Ho * Wo /
time; the int8 peak is the AMX tile unit's (hpc_kernels._cpu.amx_peak, TDPBUSD) where our AMX tiles
run, else hpc_kernels._cpu.int8_peak (vpdpbusd throughput), CPU time, same run.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Callable, Dict, List

import numpy as np

import hpc_kernels
from hpc_kernels import _cpu


def layers() -> List[dict]:
    import hpc_kernels.bench

    path = os.path.join(os.path.dirname(hpc_kernels.bench.__file__), "layers", "resnet50.json")
    with open(path) as f:
        return json.load(f)["layers"]


def timed(fns: Dict[str, Callable[[], object]], rounds: int, sample_s: float, wall: bool) -> Dict[str, List[float]]:
    clock = time.perf_counter if wall else time.thread_time
    reps = {}
    for name, fn in fns.items():
        fn()
        t0 = clock()
        fn()
        reps[name] = max(1, int(sample_s / max(clock() - t0, 1e-6)))
    out: Dict[str, List[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = clock()
            for _ in range(reps[name]):
                fn()
            out[name].append((clock() - t0) / reps[name])
    return out


class Layer:
    """One layer's tensors and quantization (the same for both libraries)."""

    def __init__(self, L: dict, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.L = L
        c, k, h, w, r, s = L["c"], L["k"], L["h"], L["w"], L["r"], L["s"]
        st, pad, g = L["stride"], L["padding"], L["groups"]
        self.ho = (h + 2 * pad - (r - 1) * L["dilation"] - 1) // st + 1
        self.wo = (w + 2 * pad - (s - 1) * L["dilation"] - 1) // st + 1
        self.x = rng.integers(0, 256, (1, h, w, c), dtype=np.uint8)  # NHWC
        self.wt = rng.integers(-127, 128, (k, c // g, r, s), dtype=np.int8)
        self.x_scale, self.x_zp = np.float32(0.02), np.uint8(3)
        self.w_scale = rng.uniform(0.5e-3, 2e-3, k).astype(np.float32)
        self.bias = rng.integers(-2000, 2000, k).astype(np.int32)
        self.y_scale, self.y_zp = np.float32(0.05 * np.sqrt(c * r * s / 64)), np.uint8(0)
        self.ops = 2.0 * k * (c // g) * r * s * self.ho * self.wo

    def ours(self) -> Callable[[], object]:
        L = self.L
        plan = hpc_kernels.QConv2d(self.wt, stride=L["stride"], padding=L["padding"], dilation=L["dilation"],
                                   groups=L["groups"], layout="NHWC", x_zero_point=self.x_zp, w_zero_point=0,
                                   x_scale=self.x_scale, w_scale=self.w_scale, out_scale=self.y_scale,
                                   out_zero_point=self.y_zp, bias=self.bias, activation="relu")
        out = np.empty((1, self.ho, self.wo, L["k"]), np.uint8)
        return lambda: plan(self.x, out=out)

    def ort(self, threads: int) -> Callable[[], object]:
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper

        L = self.L
        k = L["k"]
        consts = dict(xs=self.x_scale, xz=self.x_zp, w=self.wt, ws=self.w_scale, wz=np.zeros(k, np.int8),
                      ys=self.y_scale, yz=self.y_zp, b=self.bias)
        inits = [numpy_helper.from_array(np.asarray(v), n) for n, v in consts.items()]
        p = L["padding"]
        node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y"],
                                domain="com.microsoft", channels_last=1, pads=[p] * 4,
                                strides=[L["stride"]] * 2, dilations=[L["dilation"]] * 2, group=L["groups"],
                                kernel_shape=[L["r"], L["s"]])
        graph = helper.make_graph([node], "qconv",
                                  [helper.make_tensor_value_info("x", TensorProto.UINT8, list(self.x.shape))],
                                  [helper.make_tensor_value_info("y", TensorProto.UINT8, [1, self.ho, self.wo, k])],
                                  inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                        helper.make_opsetid("com.microsoft", 1)])
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        feed = {"x": self.x}
        return lambda: sess.run(None, feed)[0]


def check_agreement(layer: Layer, ours, ort) -> int:
    """Largest difference in output steps (both round the same float; the products are exact)."""
    a = np.asarray(ours()).astype(np.int32)
    b = np.asarray(ort()).astype(np.int32)
    return int(np.abs(a - b).max())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1])
    p.add_argument("--layers", nargs="*", help="layer names (or prefixes) from resnet50.json; default: all")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--sample", type=float, default=0.05, help="seconds per sample (back-to-back calls)")
    p.add_argument("--no-ort", action="store_true", help="ours only")
    p.add_argument("--best", action="store_true",
                   help="the fastest round instead of the median (wall time on a machine other jobs load)")
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args()
    amx = _cpu.qinfo()["amx"]  # (the % of peak was against vpdpbusd's while the tiles ran: over 100%)
    peak = _cpu.amx_peak("int8", 0.5) if amx else _cpu.int8_peak(0.5)
    unit = "TDPBUSD (AMX)" if amx else "vpdpbusd"
    print(f"int8 kernel: {_cpu.qinfo()['ukernel']}; int8 peak (1 thread, {unit}, CPU time): {peak:.0f} GOP/s")
    sel = [L for L in layers() if not args.layers or any(L["name"].startswith(n) for n in args.layers)]
    rows = []
    total: Dict[tuple, float] = {}
    for nt in args.threads:
        hpc_kernels.set_num_threads(nt)
        wall = nt > 1
        stat = "fastest" if args.best else "median"
        print(f"\n{nt} thread(s), {'wall' if wall else 'thread CPU'} time, {stat} of {args.rounds} rounds (spread max/min)")
        print(f"  {'layer':20s} {'n':>6s} {'k':>6s} {'ours ms':>9s} {'GOP/s':>6s} {'%pk':>4s} {'sprd':>5s}"
              f" {'ort ms':>8s} {'GOP/s':>6s} {'sprd':>5s} {'ours/ort':>8s}")
        for L in sel:
            lay = Layer(L)
            fns = {"ours": lay.ours()}
            if not args.no_ort:
                fns["ort"] = lay.ort(nt)
            diff = check_agreement(lay, fns["ours"], fns["ort"]) if "ort" in fns else 0
            t = timed(fns, args.rounds, args.sample, wall)
            row = dict(layer=L["name"], threads=nt, count=L["count"], n=lay.ho * lay.wo, k=L["c"] * L["r"] * L["s"],
                       max_diff=diff)
            for name, s in t.items():
                med = min(s) if args.best else statistics.median(s)
                row[name] = dict(ms=med * 1e3, gops=lay.ops / med * 1e-9, spread=max(s) / min(s))
                total[(nt, name)] = total.get((nt, name), 0.0) + med * 1e3 * L["count"]
            rows.append(row)
            o = row["ours"]
            line = (f"  {L['name']:20s} {row['n']:6d} {row['k']:6d} {o['ms']:9.3f} {o['gops']:6.0f} "
                    f"{100 * o['gops'] / peak:4.0f} {o['spread']:5.2f}")
            if "ort" in row:
                r = row["ort"]
                line += f" {r['ms']:8.3f} {r['gops']:6.0f} {r['spread']:5.2f} {o['ms'] / r['ms']:8.2f}"
                if diff > 1:
                    line += f"  (outputs differ by {diff} steps)"
            print(line, flush=True)
        s = f"  sum over the network (x count): ours {total[(nt, 'ours')]:.2f} ms"
        if (nt, "ort") in total:
            s += f", ort {total[(nt, 'ort')]:.2f} ms, ratio {total[(nt, 'ours')] / total[(nt, 'ort')]:.2f}"
        print(s)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(peak_gops=peak, rows=rows), f, indent=1)


if __name__ == "__main__":
    main()
