"""`python -m hpc_kernels bench --compare old.json new.json`: per measurement, the ratio of the new run's
GFLOP/s to the old one's, regressions flagged (exit status 1 when there is one).

Measurements match on suite, op, case, network, dtype, layout, threads, batch and implementation.
A drop below 1 - tolerance of ours (kind backend) is a regression; a reference library's change is
shown but not flagged (it says the machine or the library changed, not the package). A result that
was correct and is no longer is always a regression.
"""
from __future__ import annotations

import sys
from typing import Any, Dict, List, Mapping

from . import analysis, record


def compare(old: Mapping[str, Any], new: Mapping[str, Any], tolerance: float = 0.10) -> Dict[str, Any]:
    before = {record.key(r): r for r in old["records"]}
    rows: List[Dict[str, Any]] = []
    for r in new["records"]:
        o = before.get(record.key(r))
        if o is None:
            continue
        ratio = r["gflops"] / o["gflops"]
        slower = r["kind"] == "backend" and ratio < 1.0 - tolerance
        broke = o["correct"] and not r["correct"]
        rows.append({"key": record.key(r), "old_gflops": o["gflops"], "new_gflops": r["gflops"], "ratio": ratio,
                     "kind": r["kind"], "regression": slower or broke, "broke": broke})
    keys_new = {record.key(r) for r in new["records"]}
    return {"rows": rows, "only_old": len(set(before) - keys_new), "only_new": len(keys_new - set(before)),
            "geomean": analysis.geomean([x["ratio"] for x in rows if x["kind"] == "backend"])}


def format_comparison(c: Mapping[str, Any], tolerance: float) -> str:
    head = f"{'suite':<7} {'op':<6} {'case':<28} {'dtype':<8} {'thr':>3} {'impl':<20} {'old GF/s':>9} {'new GF/s':>9} {'new/old':>8}"
    lines = [head, "-" * len(head)]
    for x in c["rows"]:
        suite, op, case, _net, dtype, _layout, threads, _batch, impl = x["key"]
        flag = "  REGRESSION" + (" (now incorrect)" if x["broke"] else "") if x["regression"] else ""
        lines.append(f"{suite:<7} {op:<6} {case[:28]:<28} {dtype:<8} {threads:>3} {impl[:20]:<20} {x['old_gflops']:>9.1f} "
                     f"{x['new_gflops']:>9.1f} {x['ratio']:>8.2f}{flag}")
    n_bad = sum(x["regression"] for x in c["rows"])
    lines.append(f"{len(c['rows'])} matched measurements ({c['only_old']} only in the old run, {c['only_new']} only in the new); "
                 f"geometric mean new/old of ours {c['geomean']:.3f}; {n_bad} regression(s) (ours slower by more than "
                 f"{tolerance:.0%}, or no longer correct)")
    return "\n".join(lines)


def run(paths: List[str], tolerance: float) -> int:
    try:
        old, new = (record.load(p) for p in paths)
    except ValueError as exc:
        print(f"bench --compare: {exc}", file=sys.stderr)
        return 2
    c = compare(old, new, tolerance)
    if not c["rows"]:
        print("bench --compare: the two runs have no measurement in common", file=sys.stderr)
        return 2
    print(format_comparison(c, tolerance))
    return 1 if any(x["regression"] for x in c["rows"]) else 0
