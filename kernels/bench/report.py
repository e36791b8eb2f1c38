"""`--report DIR`: results.json, the figures (PNG), report.md (tables + image links, to paste or link)
and report.html (the same, self-contained: images embedded) from one results document."""
from __future__ import annotations

import base64
import html
import os
from typing import Any, Dict, List, Mapping, Sequence, Tuple

from . import analysis, plots, record

Block = Tuple[Any, ...]  # ("h2", text) | ("p", text) | ("table", header, rows) | ("img", file, alt)
NOISY = 1.3  # a case whose rounds differ by more than this was disturbed


def _f(x: float, digits: int = 1) -> str:
    return f"{x:.{digits}f}"


def _run_blocks(doc: Mapping[str, Any]) -> List[Block]:
    m = doc["meta"]
    libs = ", ".join(f"{k} {v}" for k, v in (m.get("libraries") or {}).items() if v)
    isa = ", ".join(f"{dt} {i}" for dt, i in (m.get("isa") or {}).items())
    out: List[Block] = [
        ("h1", "hpc-kernels benchmark report"),
        ("p", f"Run {m.get('date')} with `{m.get('command') or 'python -m hpc_kernels bench'}`: {m.get('processor')} "
              f"({m.get('machine')}, {m.get('cores')} cores, {m.get('system')}), kernels {m.get('kernels')}, cpu ISA: {isa or 'n/a'}; "
              f"threads {', '.join(map(str, m.get('threads') or []))}; {m.get('rounds')} interleaved rounds per case, medians, "
              f"warm-up first; every result checked against a float64 reference."),
        ("p", f"Libraries: {libs}."),
    ]
    load = m.get("loadavg") or {}
    if load.get("before") is not None:
        out.append(("p", f"Load average (1 min) before / after the run: {load['before']} / {load.get('after')} (after includes "
                         f"the run itself; a load from other processes shares the cores and lowers the multi-thread figures "
                         f"first); wall time {m.get('wall_s')} s."))
    peak = m.get("peak")
    if peak:
        rows = [[dt, *[(_f(g) if g else "-") for g in by.values()]] for dt, by in peak["fma_gflops"].items()]
        threads = list(next(iter(peak["fma_gflops"].values())).keys())
        rows.append(["bandwidth GB/s", *[_f(peak["bandwidth"][t]["gbs"]) if t in peak["bandwidth"] else "-" for t in threads]])
        bw = next(iter(peak["bandwidth"].values()))
        out += [("h2", "Machine ceilings (`python -m hpc_kernels bench peak`)"),
                ("table", ["GFLOP/s FMA peak"] + [f"{t} core(s)" for t in threads], rows),
                ("p", f"Bandwidth: STREAM {bw['kernel']}, arrays of {bw['array_bytes'] >> 20} MiB each, best of 5 passes.")]
    rows = []
    ran = {r["suite"] for r in doc["records"]}
    for name, b in (m.get("backends") or {}).items():
        status = "measured" if name in ran else ("available, not selected" if b["available"] else "unavailable")
        rows.append([name, status, b.get("reason") or ""])
    for what, err in (doc.get("failed") or {}).items():
        rows.append([what, "failed", err])
    out += [("h2", "Backends"), ("table", ["backend", "status", "reason"], rows)]
    return out


def _summary_blocks(records: Sequence[Mapping[str, Any]]) -> List[Block]:
    summ = analysis.summary(records)
    refs = list(dict.fromkeys(ref for s in summ for ref in s["vs"]))
    rows = [[s["suite"], s["op"], s["dtype"], str(s["threads"]), str(s["cases"]), _f(s["geomean"], 2), _f(s["min"], 2), _f(s["max"], 2)]
            + [_f(s["vs"][ref], 2) if ref in s["vs"] else "-" for ref in refs] for s in summ]
    bad = [r for r in records if not r["correct"]]
    out: List[Block] = [
        ("h2", "Summary"),
        ("p", "Speedup = time(fastest reference library on the case) / time(fastest implementation of the suite's backend): "
              "above 1 the package is faster; geometric mean, min and max over the cases, then the geometric mean against "
              "each reference library. Each suite interleaves its competitors in one timing loop, so ratios are within a suite."),
        ("table", ["suite", "op", "dtype", "threads", "cases", "speedup geomean", "min", "max"] + [f"vs {ref}" for ref in refs], rows),
    ]
    out.append(("p", "All results passed their correctness check." if not bad else
                "**Failed the correctness check:** " + "; ".join(f"{r['suite']} {r['impl']} {r['case']} {r['dtype']} {r['threads']}t" for r in bad)))
    cases = analysis.group(records)
    noisy = [k for k, rs in cases.items() if (_spread(rs) or 1.0) > NOISY]
    if any(r.get("spread") is not None for r in records):
        out.append(("p", f"Spread (tables: the largest over a case's implementations) = slowest / fastest of the timed rounds: "
                         f"{len(noisy)} of {len(cases)} cases above {NOISY} (in bold), where other processes took the cores "
                         f"during the case; rerun those before quoting them."))
    return out


def _case_table(recs: Sequence[Mapping[str, Any]], op: str) -> Block:
    impls = list(dict.fromkeys(r["impl"] for r in recs))
    rows = []
    for k, rs in analysis.group(recs).items():
        by = {r["impl"]: r for r in rs}
        sp = analysis.speedups(rs)
        shape = rs[0]["shape"]
        size = f"{shape['m']}×{shape['n']}×{shape['k']}" if op == "gemm" else f"{shape['c']}→{shape['k']} {shape['r']}x{shape['s']}/{shape['stride']}"
        ok = all(r["correct"] for r in rs)
        spread = _spread(rs)
        rows.append([rs[0]["case"], size, str(rs[0]["count"]), rs[0]["dtype"], str(rs[0]["threads"])]
                    + [_f(by[i]["gflops"]) if i in by else "-" for i in impls]
                    + [f"{sp[0]['speedup']:.2f}" if sp else "-", "yes" if ok else "**NO**",
                       "-" if spread is None else (f"**{spread:.2f}**" if spread > NOISY else f"{spread:.2f}")])
    head = ["case", "M×N×K" if op == "gemm" else "C→K RxS/stride", "count", "dtype", "threads"] + [f"{i} GFLOP/s" for i in impls]
    return ("table", head + ["speedup", "correct", "spread"], rows)


def _spread(recs: Sequence[Mapping[str, Any]]):
    """The largest slowest/fastest-round ratio among the records (None when no suite measured it)."""
    spreads = [r["spread"] for r in recs if r.get("spread") is not None]
    return max(spreads) if spreads else None


def _totals_table(totals: Sequence[Mapping[str, Any]]) -> Block:
    rows = []
    for t in totals:
        cells = "; ".join(f"{i} {s * 1e3:.1f} ms ({t['flops'] / s / 1e9:.0f} GFLOP/s)" for i, s in t["seconds"].items())
        rows.append([t["suite"], t["op"], t["net"], t["dtype"], t["layout"] or "-", str(t["threads"]), f"{t['distinct']} / {t['layers']}",
                     cells, f"{t['speedup']:.2f} ({t['ours']} vs {t['reference']})" if "speedup" in t else "-"])
    return ("table", ["suite", "op", "network", "dtype", "layout", "threads", "shapes / layers", "total time per implementation",
                      "speedup"], rows)


def _onnx_blocks(doc: Mapping[str, Any], out_dir: str) -> List[Block]:
    """`bench all`'s ONNX models (kernels/bench/onnx.py): a figure and a table, or why they did not run."""
    results, skipped = doc.get("onnx") or [], doc.get("onnx_skipped")
    if not results:
        return [("h2", "ONNX models"), ("p", f"Not measured: {skipped}.")] if skipped else []
    rows = []
    for r in results:
        o, t = r["ours"], r["ort"]
        rows.append([r["model"], "x".join(map(str, r["input_shape"])), str(r["threads"]), f"{o['median_s'] * 1e3:.2f}",
                     f"{t['median_s'] * 1e3:.2f}", f"{r['ratio']:.2f}", f"{o['spread']:.2f} / {t['spread']:.2f}",
                     f"{o['peak_rss_mib']:.0f} / {t['peak_rss_mib']:.0f}", "yes" if r["correct"] else "**NO**"])
    fig = plots.onnx_models(results, doc["meta"], os.path.join(out_dir, "onnx_models.png"))
    return ([("h2", "ONNX models (`python -m hpc_kernels bench onnx`)"),
             ("p", "Whole models through hpc_kernels.onnx.InferenceSession (default backend) and onnxruntime (CPU provider, "
                   "the same intra-op thread count, one inter-op thread), each runtime in its own process per round, the "
                   "order alternating; medians over rounds of each round's median run. Ratio above 1: ours is slower. "
                   "Correct: outputs agree within 1e-4 of the output's magnitude.")]
            + _figure(fig, out_dir, "ONNX models: ms per inference")
            + [("table", ["model", "input", "threads", "ours ms", "onnxruntime ms", "ours / ort", "spread ours / ort",
                          "peak RSS MiB ours / ort", "correct"], rows)])


def _figure(path: str, out_dir: str, alt: str) -> List[Block]:
    return [("img", os.path.relpath(path, out_dir), alt)] if path else []


def build(doc: Mapping[str, Any], out_dir: str) -> List[Block]:
    """The report's blocks; writes the figures into out_dir."""
    records, meta = doc["records"], doc["meta"]
    blocks = _run_blocks(doc) + _summary_blocks(records)
    totals = analysis.net_totals(records)
    if totals:
        blocks += [("h2", "Network totals"),
                   ("p", "Sum over the measured layers of count × median time (a --quick run measures the layers carrying "
                         "most of the flops, not the whole network). Speedup: the suite's fastest single implementation over "
                         "the whole network against the fastest reference."),
                   _totals_table(totals)]
    for suite in dict.fromkeys(r["suite"] for r in records):
        for op in ("gemm", "conv2d"):
            recs = [r for r in records if r["suite"] == suite and r["op"] == op]
            if not recs:
                continue
            blocks.append(("h2", f"{suite} suite: {op}"))
            if op == "gemm":
                fig = plots.gemm_scaling(records, meta, suite, os.path.join(out_dir, f"gemm_{suite}.png"))
                blocks += _figure(fig, out_dir, f"{suite} GEMM GFLOP/s against n") + [_case_table(recs, op)]
                continue
            for net, layout in dict.fromkeys((r["net"], r["layout"]) for r in recs):
                fig = plots.layer_bars(records, meta, suite, net, layout, os.path.join(out_dir, f"conv2d_{suite}_{net}_{layout}.png"))
                blocks += [("h3", f"{net}, {layout}")] + _figure(fig, out_dir, f"{suite} {net} {layout} conv layers GFLOP/s")
                blocks.append(_case_table([r for r in recs if r["net"] == net and r["layout"] == layout], op))
    blocks += _onnx_blocks(doc, out_dir)
    fig = plots.roofline(records, meta, os.path.join(out_dir, "roofline.png"))
    if fig:
        blocks += [("h2", "Roofline"),
                   ("p", "Filled markers: GEMM; open markers: conv2d layers. Arithmetic intensity counts each operand read "
                         "once and the result written once (the minimum traffic), so a point's distance below the roof is "
                         "what the implementation leaves on the table. CPU-side suites only, at the largest thread count.")]
        blocks += _figure(fig, out_dir, "roofline")
    return blocks


def to_markdown(blocks: Sequence[Block]) -> str:
    out = []
    for b in blocks:
        if b[0] in ("h1", "h2", "h3"):
            out.append("#" * int(b[0][1]) + " " + b[1])
        elif b[0] == "p":
            out.append(b[1])
        elif b[0] == "img":
            out.append(f"![{b[2]}]({b[1]})")
        elif b[0] == "table":
            out.append("| " + " | ".join(b[1]) + " |")
            out.append("|" + "---|" * len(b[1]))
            out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in b[2]]
        out.append("")
    return "\n".join(out)


def _inline(text: str) -> str:
    """The two Markdown marks the report uses (`code`, **bold**) as HTML, after escaping."""
    import re

    t = html.escape(text)
    t = re.sub(r"`([^`]*)`", r"<code>\1</code>", t)
    return re.sub(r"\*\*([^*]*)\*\*", r"<b>\1</b>", t)


def to_html(blocks: Sequence[Block], out_dir: str) -> str:
    out = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>hpc-kernels benchmark report</title>",
           "<style>body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em}table{border-collapse:collapse;"
           "font-size:13px;margin:0.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
           "td:first-child,th{text-align:left}img{max-width:100%}</style></head><body>"]
    for b in blocks:
        if b[0] in ("h1", "h2", "h3"):
            out.append(f"<{b[0]}>{_inline(b[1])}</{b[0]}>")
        elif b[0] == "p":
            out.append(f"<p>{_inline(b[1])}</p>")
        elif b[0] == "img":  # embedded: the page is one file to mail or attach
            with open(os.path.join(out_dir, b[1]), "rb") as f:
                data = base64.b64encode(f.read()).decode()
            out.append(f"<p><img alt='{html.escape(b[2])}' src='data:image/png;base64,{data}'></p>")
        elif b[0] == "table":
            out.append("<table><tr>" + "".join(f"<th>{_inline(h)}</th>" for h in b[1]) + "</tr>")
            out += ["<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in b[2]]
            out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)


def write(doc: Mapping[str, Any], out_dir: str) -> Dict[str, str]:
    """Write results.json, the PNGs, report.md and report.html into out_dir (created); returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {"json": os.path.join(out_dir, "results.json"), "md": os.path.join(out_dir, "report.md"),
             "html": os.path.join(out_dir, "report.html")}
    record.dump(paths["json"], doc)
    blocks = build(doc, out_dir)
    with open(paths["md"], "w") as f:
        f.write(to_markdown(blocks))
    with open(paths["html"], "w") as f:
        f.write(to_html(blocks, out_dir))
    return paths
