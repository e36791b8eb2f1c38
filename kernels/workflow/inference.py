"""onnx_task: an ONNX model through hpc_kernels.onnx.InferenceSession as a workflow task (threads bound to
what the task owns, the task's GPU used, inputs and outputs as arrays or atomically written .npy files)."""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .arrays import PathLike, is_path, load, save_atomic
from .tasks import run_kernel

Inputs = Union[np.ndarray, PathLike, Sequence[Any], Mapping[str, Any]]

# Sessions of model files, by (path, mtime, size, backend, layout): a worker running the same model on
# many batches loads and compiles it once. A changed file is a new key; the oldest entries go first.
_SESSIONS: "OrderedDict[Tuple, Any]" = OrderedDict()
_SESSIONS_MAX = 4
_LOCK = threading.Lock()


def _session(model: Any, backend: Optional[str], layout: str):
    from ..onnx import InferenceSession

    if not is_path(model):
        return InferenceSession(model, backend=backend, layout=layout)
    path = os.path.abspath(os.fspath(model))
    if not os.path.exists(path):
        raise FileNotFoundError(f"onnx: model file {os.fspath(model)!r} does not exist")
    st = os.stat(path)
    key = (path, st.st_mtime_ns, st.st_size, backend, layout)
    with _LOCK:
        s = _SESSIONS.get(key)
        if s is not None:
            _SESSIONS.move_to_end(key)
            return s
    s = InferenceSession(path, backend=backend, layout=layout)
    with _LOCK:
        _SESSIONS[key] = s
        while len(_SESSIONS) > _SESSIONS_MAX:
            _SESSIONS.popitem(last=False)
    return s


def feeds(names: List[str], inputs: Inputs) -> Dict[str, Any]:
    """The input feed: one array or path for a one-input model, a sequence in the model's input order,
    or a mapping by input name; .npy paths loaded (errors name the input and the file)."""
    if isinstance(inputs, Mapping):
        unknown = [k for k in inputs if k not in names]
        if unknown:
            raise ValueError(f"onnx: unknown input(s) {', '.join(map(repr, unknown))}; the model's inputs: {', '.join(names)}")
        given = dict(inputs)
    elif isinstance(inputs, (list, tuple)):
        if len(inputs) != len(names):
            raise ValueError(f"onnx: {len(inputs)} input(s) given, the model has {len(names)}: {', '.join(names)}")
        given = dict(zip(names, inputs))
    else:
        if len(names) != 1:
            raise ValueError(f"onnx: the model has {len(names)} inputs ({', '.join(names)}): give them by name or in order")
        given = {names[0]: inputs}
    missing = [n for n in names if n not in given]
    if missing:
        raise ValueError(f"onnx: missing input(s) {', '.join(map(repr, missing))}; the model's inputs: {', '.join(names)}")
    return {n: load(f"onnx: input {n!r}", v) for n, v in given.items()}


def onnx_task(
    model: Any,
    inputs: Inputs,
    *,
    out: Union[PathLike, Mapping[str, PathLike], None] = None,
    outputs: Optional[Sequence[str]] = None,
    threads: Optional[int] = None,
    backend: Optional[str] = None,
    layout: str = "auto",
    info: bool = False,
) -> Any:
    """Run the ONNX `model` (a path, bytes or onnx.ModelProto) on `inputs` (see feeds()) as a task.

    Returns the output array when one output is requested (``outputs`` names them; default: all of the
    model's), else a dict name -> array. ``out``: a path (the first requested output is written there
    atomically and the path returned) or a dict output name -> path (those outputs written, the dict of
    paths returned). ``threads``: at most what the task owns (default: all of it); ``backend``: the
    session's backend (default: the task's GPU where there is one, else the dispatch's choice);
    ``info=True`` returns ``(result, info)`` as the other tasks do. Sessions of model files are cached
    per process (a worker loads and compiles a model once)."""
    session = _session(model, backend, layout)  # (backend None and a GPU given: run_kernel picks cuda below)
    names = [i.name for i in session.get_inputs()]
    feed = feeds(names, inputs)
    wanted = list(outputs) if outputs is not None else [o.name for o in session.get_outputs()]
    first = feed[names[0]] if names else None

    def call(be):
        s = session if be == backend else _session(model, be, layout)
        return s.run(wanted, feed)

    targets: Dict[str, PathLike] = {}
    if isinstance(out, Mapping):
        unknown = [k for k in out if k not in wanted]
        if unknown:
            raise ValueError(f"onnx: out names output(s) {', '.join(map(repr, unknown))} that are not among {', '.join(wanted)}")
        targets = dict(out)
    elif out is not None:
        targets = {wanted[0]: out}
    for path in targets.values():  # checked before the run, as save_atomic would after it
        directory = os.path.dirname(os.path.abspath(os.fspath(path)))
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"output directory {directory!r} does not exist")
    values, meta = run_kernel("onnx", first, call, None, threads, backend, True, op="conv2d")
    if targets:
        result: Any = {n: save_atomic(p, values[wanted.index(n)]) for n, p in targets.items()}
        if not isinstance(out, Mapping):
            result = result[wanted[0]]
    else:
        result = values[0] if len(wanted) == 1 else dict(zip(wanted, values))
    return (result, meta) if info else result
