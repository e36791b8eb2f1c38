"""`python -m hpc_kernels tune gemm --backend cpu`: search the C++ engine's GEMM micro-kernel and MC/KC/NC block sizes per dtype and keep the fastest in the tuning store.

Per dtype, at one thread count (the current one, or --threads N; recorded with the result):
  1. the micro-kernel: the engine's per-shape pick among the running ISA's kernels (the default)
     against each of those kernels alone, all at the derived block sizes;
  2. KC, then MC, then NC, one coordinate at a time around the current value (x0.5, x0.75, x1.5,
     x2; --quick: x0.5, x2), rounded to whole micro-panels (MC to MR, NC to NR) and KC to 8.
Every candidate runs hpc_kernels.gemm(backend="cpu") through the normal call path after
_cpu.configure_gemm, first checked exactly on small-integer operands, then timed interleaved with
the others (kernels/bench/timing.py) on the square --sizes and one late-CNN rectangle, RECT, so a
choice cannot win squares and lose the skinny products of a network's last layers. A candidate
replaces the current configuration only when its mean time ratio over the cases is at least NOISE
lower and no case is WORSE slower: differences below that are the shared machine's noise, and the
default stays. The final choice is timed once more against the default, with three times the
rounds (confirm_rounds); that speedup is printed and stored.

The value stored (backend "cpu", op "gemm", key the dtype, under hpc_kernels._tuning.cpu_device():
the CPU model and the ISA cap) is configure_gemm's arguments, {"ukernel", "mc", "kc", "nc"}, with
"" / 0 where the default was kept, so a later change of the derived sizes still reaches those.
hpc_kernels._tuning.apply_cpu_gemm (a load hook) applies it when the extension loads, unless
KERNELS_CPU_MC/KC/NC are set. The engine this process runs is restored after the search.
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Dict, List, NamedTuple, Optional, Tuple

import numpy as np

from ..timing import interleaved_medians
from .results import Item, save

# ResNet-50 layer 4's 3x3 convolution as im2col runs it, in NumPy terms (M, N, K): (512, 4608) @ (4608, 49)
RECT = (512, 49, 4608)
STEPS = (0.5, 0.75, 1.5, 2.0)
QUICK_STEPS = (0.5, 2.0)
NOISE = 0.02  # a change must be at least 2 % faster over the cases (mean time ratio)
WORSE = 0.05  # ... and no single case 5 % slower
CHECK = (257, 203, 1100)  # (M, N, K) of the exactness check: past KC, and past MC / NC for most candidates
ROUND = {"kc": 8}  # KC's rounding; MC rounds to MR, NC to NR


class Cfg(NamedTuple):
    """configure_gemm's arguments: "" = the engine's per-shape pick, 0 = the derived size."""

    ukernel: str = ""
    mc: int = 0
    kc: int = 0
    nc: int = 0

    def text(self) -> str:
        sizes = " ".join(f"{f.upper()}={getattr(self, f)}" for f in ("mc", "kc", "nc") if getattr(self, f))
        return f"{self.ukernel or 'per-shape pick'}{' ' + sizes if sizes else ''}"


Cases = List[Tuple[str, int, int, int]]  # (name, M, N, K)


def _cases(sizes: List[int]) -> Cases:
    return [(f"{n}^3", n, n, n) for n in sizes] + [(f"{RECT[0]}x{RECT[1]}x{RECT[2]}", *RECT)]


class Search:
    """The measurements of one dtype: operands per case, and timings of configurations."""

    def __init__(self, _cpu, dt: np.dtype, cases: Cases, rounds: int) -> None:
        import hpc_kernels

        self.gemm = hpc_kernels.gemm
        self._cpu, self.dt, self.cases, self.rounds = _cpu, dt, cases, rounds
        rng = np.random.default_rng(0)
        self.ops = {name: (rng.standard_normal((m, k)).astype(dt), rng.standard_normal((k, n)).astype(dt),
                           np.empty((m, n), dt)) for name, m, n, k in cases}
        m, n, k = CHECK
        self.check_ops = (rng.integers(-3, 4, (m, k)).astype(dt), rng.integers(-3, 4, (k, n)).astype(dt), np.empty((m, n), dt))
        self.check_ref = self.check_ops[0].astype(np.float64) @ self.check_ops[1].astype(np.float64)
        self.tried = 0

    def configure(self, c: Cfg) -> None:
        self._cpu.configure_gemm(self.dt.name, c.ukernel, c.mc, c.kc, c.nc, source="tuner")

    def usable(self, c: Cfg) -> str:
        """"" when the engine accepts `c` and computes the exact product with it, else why not."""
        try:
            self.configure(c)
        except ValueError as exc:
            return str(exc)
        a, b, out = self.check_ops
        self.gemm(a, b, out=out, backend="cpu")
        return "" if np.array_equal(out, self.check_ref) else "wrong result"

    def time(self, cfgs: List[Cfg], rounds: Optional[int] = None) -> Dict[Cfg, Dict[str, float]]:
        """Median seconds per case of each configuration, all interleaved (self.rounds rounds unless given)."""
        fns = {}
        for i, c in enumerate(cfgs):
            for name, a_b_out in self.ops.items():
                def call(c=c, a_b_out=a_b_out) -> None:
                    self.configure(c)  # microseconds; the engines it leaves behind are ~100 bytes each
                    a, b, out = a_b_out
                    self.gemm(a, b, out=out, backend="cpu")

                fns[(i, name)] = call
        t = interleaved_medians(fns, rounds=rounds or self.rounds)
        self.tried += len(cfgs)
        return {c: {name: t[(i, name)] for name in self.ops} for i, c in enumerate(cfgs)}


def confirm_rounds(rounds: int) -> int:
    """Rounds of the final timing against the default, which decides what is stored: three times the
    search's, at least 9 (a few seconds more). The search's steps may take 3 rounds (--quick) to
    rank candidates; the one choice that is kept should rest on more, where 2-thread samples spread
    by 1.1-1.3x (a shared 2-vCPU Zen 4 VM)."""
    return max(3 * rounds, 9)


def _ratios(t: Dict[str, float], base: Dict[str, float]) -> Dict[str, float]:
    return {k: t[k] / base[k] for k in base}


def _mean(r: Dict[str, float]) -> float:
    return sum(r.values()) / len(r)


def _pick(times: Dict[Cfg, Dict[str, float]], current: Cfg) -> Cfg:
    """The candidate with the lowest mean ratio to `current`, if >= NOISE faster and no case >= WORSE slower."""
    best, best_score = current, 1.0 - NOISE
    for c, t in times.items():
        r = _ratios(t, times[current])
        if c != current and _mean(r) <= best_score and max(r.values()) < 1.0 + WORSE:
            best, best_score = c, _mean(r)
    return best


def _show(label: str, times: Dict[Cfg, Dict[str, float]], current: Cfg, chosen: Cfg) -> None:
    for c, t in times.items():
        cells = "  ".join(f"{k} {v * 1e3:8.2f} ms" for k, v in t.items())
        mark = " <- chosen" if c == chosen else (" (current)" if c == current else "")
        print(f"  {label:<7} {c.text():<44} {cells}  x{1.0 / _mean(_ratios(t, times[current])):.3f}{mark}", flush=True)


def _round(value: float, step: int) -> int:
    return max(step, int(round(value / step)) * step)


def tune_dtype(_cpu, dt: np.dtype, args: argparse.Namespace) -> Optional[Item]:
    steps = QUICK_STEPS if args.quick else STEPS
    s = Search(_cpu, dt, _cases(args.sizes), args.rounds)
    default = Cfg()
    s.configure(default)
    info = _cpu.info()[dt.name]
    kernels = {k["ukernel"]: k for k in info["candidates"]}  # the running ISA's kernels, derived blocks
    print(f"{dt.name}: kernels {', '.join(kernels)}; derived blocks " +
          "; ".join(f"{n} MC={k['mc']} KC={k['kc']} NC={k['nc']}" for n, k in kernels.items()), flush=True)
    why = s.usable(default)
    if why:
        print(f"{dt.name}: the default configuration fails the check ({why}); nothing tuned", file=sys.stderr)
        return None

    # 1. the kernel
    current = default
    if len(kernels) > 1:
        cands = [default] + [c for c in (Cfg(n) for n in kernels) if not _skipped(s, c)]
        times = s.time(cands)
        chosen = _pick(times, current)
        _show("kernel", times, current, chosen)
        current = chosen

    # 2. KC, MC, NC around the current value (derived: that of the chosen kernel, else the per-shape pick's first)
    base = kernels[current.ukernel or next(iter(kernels))]
    unit = {"kc": ROUND["kc"], "mc": base["mr"], "nc": base["nr"]}
    for f in ("kc", "mc", "nc"):
        now = getattr(current, f) or base[f]
        values = sorted({_round(now * x, unit[f]) for x in steps} - {now})
        cands = [current] + [c for c in (current._replace(**{f: 0 if v == base[f] else v}) for v in values) if not _skipped(s, c)]
        if len(cands) == 1:
            continue
        times = s.time(cands)
        chosen = _pick(times, current)
        _show(f.upper(), times, current, chosen)
        current = chosen

    # 3. the choice against the default, timed together: kept only if the tie rule holds again
    if current == default:
        final = s.time([default])
        print(f"{dt.name}: kept the default ({default.text()}, derived blocks): no candidate was >= {NOISE:.0%} faster "
              f"without a case >= {WORSE:.0%} slower", flush=True)
    else:
        final = s.time([default, current], rounds=confirm_rounds(args.rounds))
        speedup = 1.0 / _mean(_ratios(final[current], final[default]))
        cells = ", ".join(f"{k} {final[default][k] * 1e3:.2f} -> {final[current][k] * 1e3:.2f} ms" for k in final[default])
        if _pick(final, default) == current:
            print(f"{dt.name}: chose {current.text()}: x{speedup:.3f} over the default ({cells})", flush=True)
        else:
            print(f"{dt.name}: kept the default: {current.text()} was not confirmed against it (x{speedup:.3f}: {cells})",
                  flush=True)
            current = default
    per_case = {k: 1.0 / r for k, r in _ratios(final[current], final[default]).items()}
    speedup = 1.0 / _mean(_ratios(final[current], final[default]))
    s.configure(current)
    effective = _cpu.info()[dt.name]
    measured = {"threads": args.threads_used, "sizes": list(args.sizes), "rect": list(RECT), "rounds": args.rounds,
                "confirm_rounds": confirm_rounds(args.rounds) if current != default else args.rounds,
                "tried": s.tried, "speedup": round(speedup, 4), "speedup_per_case": {k: round(v, 4) for k, v in per_case.items()},
                "seconds": {"default": final[default], "chosen": final[current]},
                "effective": [{k: c[k] for k in ("ukernel", "mc", "kc", "nc")} for c in effective["candidates"]]}
    return ("gemm", dt.name, current._asdict(), measured)


def _skipped(s: Search, c: Cfg) -> bool:
    why = s.usable(c)
    if why:
        print(f"  {s.dt.name} {c.text()}: skipped ({why})", flush=True)
    return bool(why)


def _restore(_cpu, dt: str, before: dict) -> None:
    """The engine of `dt` as it was before the search (its values and the label of what set them)."""
    src = before["source"]
    forced = src["ukernel"] != "derived"
    labels = [v for v in src.values() if v != "derived"]
    kw = {f: before[f] if src[f] != "derived" else 0 for f in ("mc", "kc", "nc")}
    _cpu.configure_gemm(dt, before["ukernel"] if forced else "", source=labels[0] if labels else "configure_gemm", **kw)


def run(args: argparse.Namespace) -> int:
    import hpc_kernels

    from ... import _tuning
    from ..._config import config
    from ..._extension import cpu_extension

    _cpu, _ = cpu_extension()
    t0 = time.perf_counter()
    if config.cpu_mc or config.cpu_kc or config.cpu_nc:
        print("note: KERNELS_CPU_MC/KC/NC are set: the search starts from them, and the stored result is ignored "
              "while they stay set", file=sys.stderr)
    nt = args.threads[0] if args.threads else hpc_kernels.get_num_threads()
    args.threads_used = nt
    before = {dt: _cpu.info()[dt] for dt in args.dtype}
    results: List[Item] = []
    print(f"tune gemm --backend cpu: {', '.join(args.dtype)} at {nt} thread(s), ISA cap {_cpu.info()['isa_cap']}, cases "
          f"{', '.join(n for n, *_ in _cases(args.sizes))}, {args.rounds} round(s){', quick' if args.quick else ''}", flush=True)
    try:
        with hpc_kernels.num_threads(nt):
            for dt in args.dtype:
                item = tune_dtype(_cpu, np.dtype(dt), args)
                if item is not None:
                    results.append(item)
    finally:
        for dt, b in before.items():
            _restore(_cpu, dt, b)
    print(f"search took {time.perf_counter() - t0:.1f} s", flush=True)
    if not results:
        return 1
    return save("cpu", _tuning.cpu_device(), results, "gemm configurations", args.dry_run)
