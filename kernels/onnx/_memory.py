"""The memory plan: the Workspace kernels write their outputs into, reusing buffers across runs and
between values whose lifetimes (from the node order) do not overlap.

Liveness is computed once per graph (`Liveness`): the index of each value's last reader. Each thread
that runs the graph owns an `Arena` (free buffers keyed by shape and dtype) that persists across its
runs; a run's `Workspace` hands out buffers from it, tracks which buffer each live value lives in
(several values may share one: a Reshape returns a view), and gives a buffer back to the arena once
no live value refers to it. A steady-state run thus asks the arena for the same buffers it returned
in the previous run and allocates nothing large.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .._aligned import empty_aligned
from ._ir import Graph

Key = Tuple[Tuple[int, ...], str]


class Liveness:
    """For each node index, the values whose last use it is (graph outputs never die)."""

    def __init__(self, graph: Graph) -> None:
        last: Dict[str, int] = {}
        for i, n in enumerate(graph.nodes):
            for v in list(n.inputs) + list(n.outputs):  # an unread output dies where it is made
                if v:
                    last[v] = i
        keep = set(graph.output_names())
        self.dies_after: List[List[str]] = [[] for _ in graph.nodes]
        for v, i in last.items():
            if v not in keep:
                self.dies_after[i].append(v)
        self.graph_outputs = keep


class Arena:
    """One thread's free buffers, kept across its runs."""

    def __init__(self) -> None:
        self.free: Dict[Key, List[np.ndarray]] = {}
        self.allocated_bytes = 0  # total ever allocated: what tests watch for steady state

    def take(self, shape: Tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        lst = self.free.get((shape, dtype.str))
        if lst:
            return lst.pop()
        # On a cache line: the int8 AMX tiles load a row of an aligned buffer as one line (NumPy's
        # start 16 bytes into a line, so each 64-byte tile row spans two): the QDQ ResNet-50 ran
        # 0.91x the time at 2 threads, 0.97x at 1 (alternating processes, 5 each), when unaligned
        # rows were still copied per block.
        buf = empty_aligned(shape, dtype)
        self.allocated_bytes += buf.nbytes
        return buf

    def give(self, buf: np.ndarray) -> None:
        self.free.setdefault((buf.shape, buf.dtype.str), []).append(buf)


def _root(a: np.ndarray) -> np.ndarray:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


class Workspace:
    """One run's view of an arena: `output(i, shape, dtype)` for the node being run."""

    def __init__(self, arena: Arena, liveness: Liveness) -> None:
        self.arena = arena
        self.liveness = liveness
        self.owner: Dict[str, int] = {}  # value -> id of the arena buffer it lives in
        self.buffers: Dict[int, np.ndarray] = {}  # id -> buffer in use
        self.refs: Dict[int, int] = {}  # id -> live values in it
        self._outputs: Sequence[str] = ()
        self._given: Dict[int, np.ndarray] = {}
        self._scratch: List[np.ndarray] = []
        self.wanted: Optional[set] = None  # graph outputs the caller asked for (None: all)
        # The arrays output() made for the caller (held, so identity checks stay valid).
        self.fresh: List[np.ndarray] = []
        # Set by a kernel that ran several graph nodes (FusedConvChain): the seconds of each of its
        # steps (attrs["nodes"] order), which the session's profile reports under their names.
        self.sub_times: Optional[List[float]] = None

    # -- the kernel's side --------------------------------------------------------------------
    def output(self, index: int, shape: Tuple[int, ...], dtype) -> np.ndarray:
        shape, dtype = tuple(int(d) for d in shape), np.dtype(dtype)
        name = self._outputs[index] if index < len(self._outputs) else ""
        if name in self.liveness.graph_outputs and (self.wanted is None or name in self.wanted):
            fresh = np.empty(shape, dtype)  # handed to the caller: a fresh array, never reused
            self.fresh.append(fresh)
            return fresh
        buf = self.arena.take(shape, dtype)
        self._given[index] = buf
        return buf

    def scratch(self, shape: Tuple[int, ...], dtype) -> np.ndarray:
        """A temporary buffer for the node being run (a padded copy of an input, ...), given back
        to the arena when the node ends."""
        buf = self.arena.take(tuple(int(d) for d in shape), np.dtype(dtype))
        self._scratch.append(buf)
        return buf

    # -- the session's side -------------------------------------------------------------------
    def begin(self, outputs: Sequence[str]) -> None:
        self._outputs = outputs
        self._given = {}

    def end(self, index: int, outputs: Sequence[str], results: Sequence[Optional[np.ndarray]]) -> None:
        """Records where the node's results live, returns unused buffers and dead values' buffers."""
        given = self._given
        if len(given) == 1 and len(results) == 1 and not self._scratch and outputs[0]:
            # The common node: one result, the buffer ws.output gave it (fresh from the arena, so
            # not yet in use by another value).
            buf = given.get(0)
            if buf is not None and results[0] is buf:
                rid = id(buf)
                self.buffers[rid], self.refs[rid], self.owner[outputs[0]] = buf, 1, rid
                self._given = {}
                for v in self.liveness.dies_after[index]:
                    self.release(v)
                return
        used = set()
        for name, r in zip(outputs, results):
            if not name or r is None:
                continue
            root = _root(r) if isinstance(r, np.ndarray) else None
            rid = id(root) if root is not None else None
            if rid in self.buffers or any(rid == id(b) for b in self._given.values()):
                if rid not in self.buffers:
                    self.buffers[rid] = root
                    self.refs[rid] = 0
                self.refs[rid] += 1
                self.owner[name] = rid
                used.add(rid)
        for buf in self._given.values():
            if id(buf) not in used:
                self.arena.give(buf)
        for buf in self._scratch:
            self.arena.give(buf)
        self._given, self._scratch = {}, []
        for v in self.liveness.dies_after[index]:
            self.release(v)

    def release(self, value: str) -> None:
        rid = self.owner.pop(value, None)
        if rid is None:
            return
        self.refs[rid] -= 1
        if self.refs[rid] == 0:
            del self.refs[rid]
            self.arena.give(self.buffers.pop(rid))

    def is_buffer(self, a: np.ndarray) -> bool:
        """a lies in an arena buffer still in use (the caller must get a copy)."""
        return id(_root(a)) in self.buffers

    def finish(self) -> None:
        """Every buffer back to the arena (the run is over)."""
        for buf in self.buffers.values():
            self.arena.give(buf)
        self.buffers.clear()
        self.refs.clear()
        self.owner.clear()
        self.fresh.clear()
