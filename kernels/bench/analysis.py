"""Figures derived from benchmark records: per-case speedups of a suite's backend over the fastest
reference, and whole-network totals (sum over layers of count × median time).

A suite's backend on a case is its fastest implementation there whose name starts with the suite
("cpu convgemm", "opencl im2col", ...): the algorithm `auto` would ideally pick. Speedup =
time(fastest reference library) / time(that backend): above 1 the package is faster.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .record import kind_of

CASE = ("suite", "op", "net", "case", "dtype", "layout", "threads", "batch")


def group(records: Sequence[Mapping[str, Any]], fields: Tuple[str, ...] = CASE) -> Dict[Tuple, List[Mapping[str, Any]]]:
    """Records grouped by `fields`, in first-seen order."""
    out: Dict[Tuple, List[Mapping[str, Any]]] = {}
    for r in records:
        out.setdefault(tuple(r[f] for f in fields), []).append(r)
    return out


def ours(recs: Sequence[Mapping[str, Any]]) -> Optional[Mapping[str, Any]]:
    mine = [r for r in recs if r["kind"] == "backend" and r["impl"].split()[0] == r["suite"]]
    return min(mine, key=lambda r: r["seconds"]) if mine else None


def best_reference(recs: Sequence[Mapping[str, Any]]) -> Optional[Mapping[str, Any]]:
    refs = [r for r in recs if r["kind"] == "reference"]
    return min(refs, key=lambda r: r["seconds"]) if refs else None


def speedups(records: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    out = []
    for k, recs in group(records).items():
        o, ref = ours(recs), best_reference(recs)
        if o is None or ref is None:
            continue
        vs = {r["impl"]: r["seconds"] / o["seconds"] for r in recs if r["kind"] == "reference"}
        out.append({**dict(zip(CASE, k)), "ours": o["impl"], "reference": ref["impl"], "speedup": ref["seconds"] / o["seconds"],
                    "ours_gflops": o["gflops"], "reference_gflops": ref["gflops"], "vs": vs})
    return out


def geomean(xs: Sequence[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def summary(records: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Per suite, op, dtype and thread count: geometric mean, min and max of the speedups over the
    cases against the fastest reference, and the geometric mean against each reference library."""
    out = []
    for k, rows in group(speedups(records), ("suite", "op", "dtype", "threads")).items():
        s = [r["speedup"] for r in rows]
        refs = dict.fromkeys(ref for r in rows for ref in r["vs"])
        vs = {ref: geomean([r["vs"][ref] for r in rows if ref in r["vs"]]) for ref in refs}
        out.append({**dict(zip(("suite", "op", "dtype", "threads"), k)), "cases": len(s), "geomean": geomean(s),
                    "min": min(s), "max": max(s), "vs": vs})
    return out


def net_totals(records: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Whole-network time per implementation (only implementations measured on every layer of the
    run), for every suite, op, network, dtype, layout, threads; `layers` = layers counted with
    their multiplicity, `distinct` = layer shapes measured."""
    out = []
    fields = ("suite", "op", "net", "dtype", "layout", "threads", "batch")
    for k, recs in group([r for r in records if r["net"]], fields).items():
        cases = group(recs, ("case",))
        impls = [i for i in dict.fromkeys(r["impl"] for r in recs) if all(any(r["impl"] == i for r in c) for c in cases.values())]
        seconds = {i: sum(r["count"] * r["seconds"] for r in recs if r["impl"] == i) for i in impls}
        first = [c[0] for c in cases.values()]
        d = {**dict(zip(fields, k)), "layers": sum(r["count"] for r in first), "distinct": len(cases),
             "flops": sum(r["count"] * r["flops"] for r in first), "seconds": seconds,
             "correct": all(r["correct"] for r in recs)}
        mine = {i: s for i, s in seconds.items() if i.split()[0] == d["suite"]}
        refs = {i: s for i, s in seconds.items() if kind_of(i) == "reference"}
        if mine and refs:  # one algorithm for the whole network, as a user would run it
            d["ours"], d["reference"] = min(mine, key=mine.get), min(refs, key=refs.get)
            d["speedup"] = refs[d["reference"]] / mine[d["ours"]]
        out.append(d)
    return out
