"""The one result record of every benchmark (gemm, conv2d; every backend), and the JSON document that holds them.

A record is one implementation measured on one case at one thread count and dtype:

    suite    backend whose run produced it (cpu, numba, opencl, cuda): the competitors of a suite
             were interleaved in the same timing loop, so ratios are taken within a suite
    op       "gemm" or "conv2d"
    case     "square 1024", "resnet50 l2 3x3 128" (gemm) or the layer name (conv2d)
    net      network of a conv layer or of a ResNet-50 im2col GEMM shape, else None
    dtype, layout, threads, batch
    impl     "cpu", "cpu convgemm", "numba auto", "opencl fpga", "numpy", "torch channels_last", ...
    kind     "backend" (one of this package's backends) or "reference" (the library a user would
             otherwise pick: NumPy/OpenBLAS, PyTorch, CLBlast, cuBLAS, cuDNN)
    seconds  median seconds per call; gflops = flops / seconds
    correct  the result passed the float64 check of its benchmark
    count    occurrences of the case in its network (totals weight by it)
    flops, bytes   work and minimum memory traffic of one call (operands read once, result
             written once): bytes is the denominator of the roofline's arithmetic intensity
    shape    m, n, k (gemm) or the layer geometry (conv2d)
    spread   slowest / fastest of the timed rounds (optional; None where the suite does not say):
             well above 1 means the machine was disturbed during the case
"""
from __future__ import annotations

import json
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

import numpy as np

SCHEMA = 1
OPS = ("gemm", "conv2d")
KINDS = ("backend", "reference")
BACKENDS = ("cpu", "numba", "opencl", "cuda", "reference")
FIELDS = ("suite", "op", "case", "net", "dtype", "layout", "threads", "batch", "impl", "kind", "seconds", "gflops",
          "correct", "count", "flops", "bytes", "shape")
KEY = ("suite", "op", "case", "net", "dtype", "layout", "threads", "batch", "impl")


def kind_of(impl: str) -> str:
    """An implementation named after one of this package's backends is ours; anything else a reference library."""
    return "backend" if impl.split()[0] in BACKENDS else "reference"


def make(suite: str, op: str, case: str, impl: str, seconds: float, flops: float, correct: bool, *, dtype: str,
         threads: int, nbytes: float, shape: Mapping[str, int], net: Optional[str] = None,
         layout: Optional[str] = None, batch: int = 1, count: int = 1, spread: Optional[float] = None) -> Dict[str, Any]:
    rec = {
        "suite": suite, "op": op, "case": case, "net": net, "dtype": dtype, "layout": layout, "threads": int(threads),
        "batch": int(batch), "impl": impl, "kind": kind_of(impl), "seconds": float(seconds),
        "gflops": float(flops) / float(seconds) / 1e9, "correct": bool(correct), "count": int(count),
        "flops": float(flops), "bytes": float(nbytes), "shape": dict(shape),
        "spread": None if spread is None else float(spread),
    }
    validate(rec)
    return rec


def expand(suite: str, op: str, case: str, seconds: Mapping[str, float], correct: Mapping[str, bool],
           flops: float, spread: Optional[Mapping[str, float]] = None, **common: Any) -> List[Dict[str, Any]]:
    """One record per implementation of a timed case (seconds, correct and spread keyed by impl name)."""
    spread = spread or {}
    return [make(suite, op, case, impl, s, flops, correct[impl], spread=spread.get(impl), **common) for impl, s in seconds.items()]


def gemm_records(suite: str, case: Any, dtype: str, threads: int, seconds: Mapping[str, float],
                 correct: Mapping[str, bool], spread: Optional[Mapping[str, float]] = None) -> List[Dict[str, Any]]:
    """The records of one GEMM case (a kernels/bench/cases.GemmCase; every suite's gemm goes through here)."""
    itemsize = np.dtype(dtype).itemsize if dtype not in ("bfloat16",) else 2
    nbytes = itemsize * (case.m * case.k + case.k * case.n + case.m * case.n)
    net = "resnet50" if case.name.startswith("resnet50") else None
    return expand(suite, "gemm", case.name, seconds, correct, case.flops, spread, dtype=dtype, threads=threads,
                  nbytes=nbytes, shape={"m": case.m, "n": case.n, "k": case.k}, net=net, count=case.count)


def conv_records(suite: str, layer: Any, dtype: str, layout: str, batch: int, threads: int, seconds: Mapping[str, float],
                 correct: Mapping[str, bool], names: Mapping[str, str],
                 spread: Optional[Mapping[str, float]] = None) -> List[Dict[str, Any]]:
    """The records of one conv layer (a kernels/bench/layers.ConvLayer); `names` maps the suite's row
    keys to impl names (unmapped keys are left out)."""
    itemsize = np.dtype(dtype).itemsize if dtype != "bfloat16" else 2
    elems = (np.prod(layer.x_shape(batch, layout)) + np.prod(layer.w_shape) + np.prod(layer.y_shape(batch, layout)))
    shape = {f: getattr(layer, f) for f in ("c", "k", "h", "w", "r", "s", "stride", "padding", "dilation", "groups")}
    t = {names[k]: s for k, s in seconds.items() if k in names}
    ok = {names[k]: v for k, v in correct.items() if k in names}
    sp = {names[k]: v for k, v in (spread or {}).items() if k in names}
    return expand(suite, "conv2d", layer.name, t, ok, batch * layer.flops, sp, dtype=dtype, threads=threads,
                  nbytes=float(itemsize * elems), shape=shape, net=layer.net, layout=layout, batch=batch,
                  count=layer.count)


def validate(rec: Mapping[str, Any]) -> None:
    """ValueError naming what is wrong: a record that does not fit the schema would break the report."""
    missing = [f for f in FIELDS if f not in rec]
    if missing:
        raise ValueError(f"benchmark record lacks {', '.join(missing)}: {dict(rec)}")
    if rec["op"] not in OPS or rec["kind"] not in KINDS:
        raise ValueError(f"benchmark record: op must be one of {OPS} and kind one of {KINDS}, got {rec['op']!r}, {rec['kind']!r}")
    if not rec["seconds"] > 0 or rec["threads"] < 1 or rec["count"] < 1:
        raise ValueError(f"benchmark record: seconds > 0, threads >= 1 and count >= 1 needed: {dict(rec)}")


def key(rec: Mapping[str, Any]) -> Tuple:
    """What identifies a measurement across runs (for --compare)."""
    return tuple(rec[f] for f in KEY)


def document(meta: Mapping[str, Any], records: Iterable[Mapping[str, Any]], **extra: Any) -> Dict[str, Any]:
    return {"schema": SCHEMA, "meta": dict(meta), "records": list(records), **extra}


def dump(path: str, doc: Mapping[str, Any]) -> None:
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, default=str)


def load(path: str) -> Dict[str, Any]:
    """A results document, checked: ValueError (with the path) for anything but a schema-1 file of records."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read benchmark results ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not isinstance(doc.get("records"), list):
        raise ValueError(f"{path}: not a benchmark results file of schema {SCHEMA} (written by `python -m hpc_kernels bench ... --json`)")
    for rec in doc["records"]:
        try:
            validate(rec)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path}: {exc}") from None
    return doc
