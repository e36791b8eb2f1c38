"""Interleaved, warm, median timing of competing implementations (the machine is shared and noisy).

With several threads, every library's workers keep spinning for a while after a call (OpenBLAS for
~2^28 cycles, libgomp for its spin count) and steal the cores from whichever library runs next;
on a 2-core machine that turns each barrier into a scheduler time slice. `settle_s` sleeps after
each sample so every library starts from parked workers. Waking parked workers is slow on a VM
(an idle vCPU is halted: the first call after a sleep measured up to 10 ms here), so every sample
starts with one untimed call, and the calls per sample are sized from the fastest of a few calls.
"""
from __future__ import annotations

import statistics
import time
from typing import Callable, Dict, List


def _reps_for(fn: Callable[[], object], budget_s: float) -> int:
    """Calls per sample so that one sample lasts about `budget_s` (short calls are batched)."""
    fn()  # wake the workers
    dt = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        fn()
        dt = min(dt, time.perf_counter() - t0)
    return max(1, int(budget_s / max(dt, 1e-7)))


class Timings(Dict[str, float]):
    """Median seconds per call by name; `spread[name]` = slowest / fastest round (1.0: steady; well
    above 1: the machine was disturbed during the case, other processes took the cores)."""

    spread: Dict[str, float]


def interleaved_medians(
    fns: Dict[str, Callable[[], object]], rounds: int = 5, sample_s: float = 0.05, settle_s: float = 0.0
) -> Timings:
    """Median seconds per call of each fn. Each round times every fn once, in turn, so slow drifts
    of the machine (other tenants, clock changes) hit all competitors alike."""
    for fn in fns.values():  # warm-up: caches, page faults, OpenMP pools, lazy imports
        fn()
        time.sleep(settle_s)
    reps = {}
    for name, fn in fns.items():
        reps[name] = _reps_for(fn, sample_s)
        time.sleep(settle_s)
    samples: Dict[str, List[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            r = reps[name]
            fn()  # untimed: wakes the workers parked during the settle sleep
            t0 = time.perf_counter()
            for _ in range(r):
                fn()
            samples[name].append((time.perf_counter() - t0) / r)
            time.sleep(settle_s)
    out = Timings((name, statistics.median(s)) for name, s in samples.items())
    out.spread = {name: max(s) / min(s) for name, s in samples.items()}
    return out
