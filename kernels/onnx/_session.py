"""InferenceSession: onnxruntime's interface over a loaded, folded and compiled Graph; one kernel per
node built at load, run in order with a per-thread memory plan; feeds checked; per-node profile."""
from __future__ import annotations

import os
import threading
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from . import ops  # noqa: F401  (registers every op's builder)
from ._fold import fold_constants
from ._ir import Graph, ValueInfo
from ._load import load_proto, to_graph
from ._memory import Arena, Liveness, Workspace, _root
from ._precision import check_precision
from ._passes import chain_convs, compile_graph, fuse_pool_flatten, runs_on_cpu
from ._registry import BuildContext, lookup
from ._reports import ModelMetadata, NodeArg, Profile, type_string
from . import _thread_count

_BACKENDS = ("cpu", "numba", "reference", "opencl", "cuda")
_LAYOUTS = ("auto", "NCHW", "NHWC")
_FOLD_RUNS = 256  # runs whose times the profile keeps before summing them (_record)


def _dims_match(declared: Optional[tuple], actual: tuple) -> bool:
    return declared is None or (len(declared) == len(actual) and all(
        not isinstance(d, int) or d == a for d, a in zip(declared, actual)))


class InferenceSession:
    """``InferenceSession(model, backend=None, threads=None, layout="auto", precision="fp32")``:
    model is a path, bytes or an onnx.ModelProto. ``run(output_names, input_feed)`` as
    onnxruntime's. precision="bf16" runs the convolutions and GEMMs of a float32 model on the
    bfloat16 kernels (cpu and reference backends; kernels/onnx/_precision.py)."""

    def __init__(self, model: Any, *, backend: Optional[str] = None, threads: Optional[int] = None,
                 layout: str = "auto", precision: str = "fp32", providers: Any = None, sess_options: Any = None) -> None:
        if backend is not None and backend not in _BACKENDS:
            raise ValueError(f"backend must be None or one of {', '.join(_BACKENDS)}, got {backend!r}")
        if layout not in _LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(_LAYOUTS)}, got {layout!r}")
        if threads is not None:
            from .._threads import max_threads

            if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= max_threads():
                raise ValueError(f"threads must be None or an integer in [1, {max_threads()}], got {threads!r}")
        self._precision = check_precision(precision, backend)
        self._backend, self._threads = backend, threads
        proto = load_proto(model)
        # Only the metadata is kept: the proto holds every weight, which the kernels own in their
        # own forms once built (holding it doubled a session's memory).
        self._meta = ModelMetadata(proto.producer_name, proto.graph.name, proto.domain, proto.doc_string,
                                   proto.graph.doc_string, proto.model_version,
                                   {e.key: e.value for e in proto.metadata_props})
        graph = to_graph(proto)
        del proto
        graph = fold_constants(graph, backend=backend, threads=threads)
        graph = compile_graph(graph, backend=backend, layout=layout)
        # (Not in bf16: a chain is one fp32 C++ call; each bf16 FusedConv runs its own bf16 plan.)
        if runs_on_cpu(backend):
            graph = fuse_pool_flatten(graph)
        if os.environ.get("KERNELS_ONNX_CHAIN", "1") != "0" and self._precision == "fp32" and (
                runs_on_cpu(backend) or backend in ("opencl", "cuda")):
            # cpu: one C++ call per chain of convolutions and the ops around them; opencl/cuda: the
            # values between convolutions stay on the device (_passes/chain_convs.py, ops/chain.py)
            graph = chain_convs(graph, ops=runs_on_cpu(backend))
        self._graph: Graph = graph
        known = dict(graph.value_info)
        known.update({v.name: v for v in graph.inputs})
        ctx = BuildContext(backend, threads, dict(graph.initializers), graph.opset, known, precision=self._precision)
        self._kernels = []
        # Per node, the inputs its kernel reads at run time (None: a constant it took into a form
        # of its own at build, such as a convolution's packed weights).
        self._run_inputs: List[List[str]] = []
        for n in graph.nodes:
            ctx.consumed = set()
            self._kernels.append(lookup(n, graph.opset)(n, graph.opset, ctx))
            self._run_inputs.append([v if v and v not in ctx.consumed else "" for v in n.inputs])
        del ctx
        # Constants no kernel reads at run time are dropped: the kernels hold their own forms of
        # them (a model's weights would otherwise stay in memory twice or more).
        read = {v for names in self._run_inputs for v in names if v} | set(graph.output_names())
        for name in [c for c in graph.initializers if c not in read]:
            del graph.initializers[name]
        self._names = [n.name or f"{n.op_type}:{n.outputs[0]}" for n in graph.nodes]
        self._liveness = Liveness(graph)
        # What the run loop reads per node, in one tuple (kept lean: a QDQ ResNet-50 runs 77 nodes,
        # and the loop's Python between two kernels is where a 2-thread team may fall asleep).
        self._steps = [(i, node.outputs, kernel, self._run_inputs[i], self._liveness.dies_after[i])
                       for i, (node, kernel) in enumerate(zip(graph.nodes, self._kernels))]
        self._local = threading.local()
        self._lock = threading.Lock()
        # The profile's sums (see _record, profile()): seconds per node, per chain step.
        self._runs = 0
        self._pending: List[tuple] = []
        self._node_s = np.zeros(len(self._kernels))
        self._sub_s: Dict[int, np.ndarray] = {}
        self._inputs = {v.name: v for v in graph.inputs}
        self._output_names = tuple(graph.output_names())
        self._output_set = frozenset(self._output_names)
        self._const_ids = {id(_root(a)) for a in graph.initializers.values()}
        # The direct path of run(): a graph that is one node whose kernel can run on buffers of its
        # own (a cpu conv chain: a whole CNN) and whose output is the graph's only output skips the
        # Workspace. Python after a network runs with cold caches (its weights evicted the
        # interpreter's objects): the Workspace's bookkeeping around MobileNetV2's one chain cost
        # ~80 us of its ~8 ms, the direct path ~20 us.
        # Once the chain ran directly, a feed of its one input alone goes straight to the chain's
        # C++ program (ChainProgram.run_feed: the feed's checks there too, None where they fail and
        # the general path says why), whose runs the profile adds from the program's own sums.
        self._direct = None
        self._feed_name: Optional[str] = None
        direct = getattr(self._kernels[0], "direct", None) if len(self._kernels) == 1 else None
        if direct is not None and list(graph.nodes[0].outputs) == list(self._output_names) and len(self._output_names) == 1:
            self._direct = (direct, tuple(self._run_inputs[0]))
            if len(graph.inputs) == 1 and self._direct[1] == (graph.inputs[0].name,):
                self._feed_name = graph.inputs[0].name

    # -- onnxruntime's interface ----------------------------------------------------------------
    def get_inputs(self) -> List[NodeArg]:
        return [NodeArg(v.name, list(v.shape) if v.shape is not None else None, type_string(v.dtype)) for v in self._graph.inputs]

    def get_outputs(self) -> List[NodeArg]:
        return [NodeArg(v.name, list(v.shape) if v.shape is not None else None, type_string(v.dtype)) for v in self._graph.outputs]

    def get_modelmeta(self) -> ModelMetadata:
        return self._meta

    def get_providers(self) -> List[str]:
        return [f"hpc_kernels:{self._backend or 'default'}"]

    @property
    def graph(self) -> Graph:
        """The graph this session runs (after constant folding and the compile passes)."""
        return self._graph

    def profile(self) -> Profile:
        """Time per op type and per node over the runs so far (a new Profile). A chain's steps are
        reported under their own names and op types, its own time (the rest) under the chain's."""
        with self._lock:
            self._fold()
            runs, node_s = self._runs, self._node_s.copy()
            sub_s = {i: a.copy() for i, a in self._sub_s.items()}
        if self._direct is not None:  # the chain's runs from run_feed, summed by its programs
            for program in self._direct[0].programs():
                n, total, steps = program.stats()
                if n:
                    runs += n
                    node_s[0] += total
                    acc, steps = sub_s.get(0), np.asarray(steps, dtype=np.float64)
                    sub_s[0] = steps if acc is None or len(acc) != len(steps) else acc + steps
        by_op: Dict[str, float] = {}
        by_node: Dict[str, float] = {}
        for i, (node, name) in enumerate(zip(self._graph.nodes, self._names)):
            t = float(node_s[i])
            steps = sub_s.get(i)
            if steps is not None:
                for sub, st in zip(node.attrs["nodes"], steps.tolist()):
                    sub_name = sub.name or sub.outputs[0]
                    by_op[sub.op_type] = by_op.get(sub.op_type, 0.0) + st
                    by_node[sub_name] = by_node.get(sub_name, 0.0) + st
                t = max(0.0, t - float(steps.sum()))
            by_op[node.op_type] = by_op.get(node.op_type, 0.0) + t
            by_node[name] = by_node.get(name, 0.0) + t
        return Profile(runs, float(node_s.sum()), by_op, by_node)

    def run(self, output_names: Optional[Sequence[str]], input_feed: Dict[str, Any], run_options: Any = None) -> List[np.ndarray]:
        """The requested outputs (all when output_names is None) as new arrays, in that order."""
        if self._feed_name is not None and output_names is None and run_options is None:
            program = self._direct[0].bound
            if program is not None:
                out = program.run_feed(input_feed, self._feed_name, self._threads or 0)
                if out is not None:
                    return [out]
        if output_names is None:
            wanted, wanted_set = self._output_names, self._output_set
        else:
            wanted = list(output_names)
            for n in wanted:
                if n not in self._output_set:
                    raise ValueError(f"unknown output {n!r}; the model's outputs: {', '.join(sorted(self._output_set))}")
            wanted_set = set(wanted)
        feeds = self._check_feeds(input_feed)
        if self._direct is not None and run_options is None and len(wanted) == 1:
            direct, names = self._direct
            inits = self._graph.initializers
            args = [feeds[v] if v in feeds else inits[v] for v in names if v]
            if len(args) == len(names):
                token = _thread_count.enter(self._threads)
                try:
                    t0 = time.perf_counter()
                    done = direct(args)
                    t1 = time.perf_counter()
                finally:
                    _thread_count.leave(token)
                if done is not None:
                    out, steps = done
                    self._record([t1 - t0], {0: steps})
                    return [out]
        values: Dict[str, Any] = dict(self._graph.initializers)
        values.update(feeds)
        ws = Workspace(self._arena(), self._liveness)
        ws.wanted = wanted_set
        times = [0.0] * len(self._kernels)
        subs: Dict[int, List[float]] = {}
        clock = time.perf_counter
        try:
            token = _thread_count.enter(self._threads)
            try:
                for i, outputs, kernel, reads, dies in self._steps:
                    args = [values[v] if v else None for v in reads]
                    ws.begin(outputs)
                    t0 = clock()
                    try:
                        results = kernel(args, ws)
                    except Exception as exc:
                        if hasattr(exc, "add_note"):  # Python >= 3.11: the traceback names the node
                            exc.add_note(f"while running {self._graph.nodes[i].describe()}")
                        raise
                    times[i] = clock() - t0
                    if ws.sub_times is not None:
                        subs[i], ws.sub_times = ws.sub_times, None
                    ws.end(i, outputs, results)
                    for name, r in zip(outputs, results):
                        if name:
                            values[name] = r
                    for v in dies:
                        values.pop(v, None)
            finally:
                _thread_count.leave(token)
            out: List[np.ndarray] = []
            for n in wanted:
                a = self._fresh(values[n], ws, feeds)
                # Two outputs that are views of one array (an output and its Reshape, or one name
                # asked twice) are separate arrays, as onnxruntime returns them.
                if any(np.may_share_memory(a, b) for b in out):
                    a = np.array(a, copy=True)
                out.append(a)
        finally:
            ws.finish()
        self._record(times, subs)
        return out

    # -- internals ------------------------------------------------------------------------------
    def _arena(self) -> Arena:
        arena = getattr(self._local, "arena", None)
        if arena is None:
            arena = self._local.arena = Arena()
        return arena

    def _fresh(self, a: Any, ws: Workspace, feeds: Dict[str, np.ndarray]) -> np.ndarray:
        """The caller's own array: a copy when `a` lies in a reused buffer, a feed or an initializer."""
        if any(a is f for f in ws.fresh):  # made for the caller by ws.output (the common case)
            return a
        a = np.asarray(a)
        root = _root(a)
        if ws.is_buffer(a) or id(root) in self._const_ids or any(np.may_share_memory(a, f) for f in feeds.values()):
            return np.array(a, copy=True)
        return a

    def _check_feeds(self, feed: Dict[str, Any]) -> Dict[str, np.ndarray]:
        if not isinstance(feed, dict):
            raise TypeError(f"input_feed must be a dict of input name -> array, got {type(feed).__name__}")
        unknown = [n for n in feed if n not in self._inputs]
        if unknown:
            raise ValueError(f"unknown input(s) {', '.join(map(repr, unknown))}; the model's inputs: "
                             f"{', '.join(self._inputs)}")
        missing = [n for n in self._inputs if n not in feed]
        if missing:
            raise ValueError(f"missing input(s) {', '.join(map(repr, missing))}; the model's inputs: "
                             f"{', '.join(self._describe(v) for v in self._inputs.values())}")
        out = {}
        for name, v in feed.items():
            decl: ValueInfo = self._inputs[name]
            a = v if isinstance(v, np.ndarray) else np.asarray(v)
            if a.dtype != decl.dtype:
                raise TypeError(f"input {name!r} has dtype {a.dtype}; the model declares {type_string(decl.dtype)} "
                                f"({decl.dtype})")
            if decl.shape is not None and not _dims_match(decl.shape, a.shape):
                raise ValueError(f"input {name!r} has shape {a.shape}; the model declares {self._describe(decl)}")
            out[name] = a
        return out

    @staticmethod
    def _describe(v: ValueInfo) -> str:
        shape = "unknown rank" if v.shape is None else "[" + ", ".join("?" if d is None else str(d) for d in v.shape) + "]"
        return f"{v.name} {type_string(v.dtype)} {shape}"

    def _record(self, times: List[float], subs: Dict[int, List[float]]) -> None:
        """Keeps a run's seconds per node (and per step of each chain that reported them) for
        _fold to sum, every _FOLD_RUNS runs or when profile() asks. Summing here cost 15 us a run
        of MobileNetV2 (dict updates per step of its 55-step chain, or cold NumPy calls): Python
        that runs right after the chain finds its code evicted; appending costs ~1 us."""
        with self._lock:
            self._pending.append((times, subs))
            if len(self._pending) >= _FOLD_RUNS:
                self._fold()

    def _fold(self) -> None:
        """Adds the pending runs into the sums (the caller holds the lock)."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        self._runs += len(pending)
        self._node_s += np.sum([t for t, _ in pending], axis=0)
        for times, subs in pending:
            for i, seconds in subs.items():
                acc = self._sub_s.get(i)
                if acc is None or len(acc) != len(seconds):
                    self._sub_s[i] = np.array(seconds, dtype=np.float64)
                else:
                    acc += seconds
