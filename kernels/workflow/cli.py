"""`hpc-kernels run gemm|conv2d|onnx --input ... --output out.npy` (or `python -m hpc_kernels run ...`): a kernel or an
ONNX model as a workflow's binary step (exit 0 on success, 1 with a one-line error on stderr, 2 for bad usage, 128 + N when
signal N ends it while it writes the output, which then leaves no partial file)."""
from __future__ import annotations

import argparse
import sys
from typing import List

from .._errors import USER_ERRORS, one_line
from .arrays import remove_partial_files_on_signals
from .tasks import conv2d_task, gemm_task

# Integer options are checked here, before any file is read: a value no image dimension can reach
# would otherwise reach the engine's 64-bit geometry (or np.empty) and fail there less legibly.
_INT_MAX = 2**31 - 1

_INPUTS = {"gemm": (["a", "b"], ["c"]), "conv2d": (["x", "w"], ["bias"])}  # required, optional


def add_arguments(p: argparse.ArgumentParser) -> None:
    """`run gemm` and `run conv2d` as subcommands, each with only its own options: an option of the
    other kernel (`run gemm --activation relu`) is a usage error, not silently ignored."""
    from .._api.conv_args import ALGORITHMS
    from .._cli_format import add_parser, add_subparsers

    sub = add_subparsers(p, dest="kernel", required=True, metavar="{conv2d,gemm,onnx}")
    g = add_parser(sub, "gemm", help="C = alpha * op(A) @ op(B) + beta * C: --input a.npy b.npy [c.npy]")
    _common(g, "a.npy b.npy [c.npy]")
    # Numeric options are parsed in run(): a bad value is an error (exit 1, one line), as a bad file is.
    g.add_argument("--alpha", default="1.0", help="scales op(A) @ op(B)")
    g.add_argument("--beta", default="0.0", help="scales c (the third input)")
    g.add_argument("--trans-a", action="store_true", help="use A transposed")
    g.add_argument("--trans-b", action="store_true", help="use B transposed")
    c = add_parser(sub, "conv2d", help="y = activation(conv2d(x, w) + bias): --input x.npy w.npy [bias.npy]")
    _common(c, "x.npy w.npy [bias.npy]")
    c.add_argument("--stride", nargs="+", default=["1"], help="int or H W")
    c.add_argument("--padding", nargs="+", default=["0"], help="int, H W, top bottom left right, same or valid")
    c.add_argument("--dilation", nargs="+", default=["1"], help="int or H W")
    c.add_argument("--groups", default="1", help="groups of input and output channels")
    c.add_argument("--layout", choices=["NCHW", "NHWC"], default="NCHW", help="layout of x and y")
    c.add_argument("--activation", choices=["relu", "relu6"], default=None, help="fused activation (default: none)")
    c.add_argument("--algorithm", choices=ALGORITHMS, default="auto",
                   help="conv2d algorithm (each backend runs its own subset; see hpc-kernels info)")
    o = add_parser(sub, "onnx", help="an ONNX model through hpc_kernels.onnx: --model m.onnx --input x.npy [--input name=y.npy]")
    o.add_argument("--model", required=True, metavar="ONNX", help="the model file")
    o.add_argument("--input", action="extend", nargs="+", required=True, metavar="[NAME=]NPY",
                   help="inputs: NAME=file.npy by input name, plain files fill the other inputs in the model's order")
    o.add_argument("--output", action="extend", nargs="+", required=True, metavar="[NAME=]NPY",
                   help="outputs written atomically: NAME=file.npy by output name, plain files take the model's outputs in order")
    o.add_argument("--backend", default=None, help="backend name (default: the dispatch's choice; cuda when the task has a GPU)")
    o.add_argument("--threads", default=None, help="threads, at most what the task owns (default: all of it)")
    o.add_argument("--layout", choices=["auto", "NCHW", "NHWC"], default="auto", help="activation layout inside the session")


def _common(p: argparse.ArgumentParser, inputs: str) -> None:
    p.add_argument("--input", nargs="+", required=True, metavar="NPY", help=f"input .npy files in this order: {inputs}")
    p.add_argument("--output", required=True, metavar="NPY", help="result .npy file (written atomically)")
    p.add_argument("--backend", default=None, help="backend name (default: the dispatch's choice; cuda when the task has a GPU)")
    p.add_argument("--threads", default=None, help="threads, at most what the task owns (default: all of it)")


def _parse_int(option: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{option} must be an integer, got {text!r}") from None


def _int(option: str, text: str, lo: int) -> int:
    n = _parse_int(option, text)
    if not lo <= n <= _INT_MAX:
        raise ValueError(f"{option} must be in [{lo}, {_INT_MAX}], got {n}")
    return n


def _ints(option: str, values: List[str], lo: int, counts=(1, 2)):
    if len(values) not in counts:
        raise ValueError(f"{option} takes {' or '.join(map(str, counts))} integers, got {len(values)}")
    ints = [_int(option, v, lo) for v in values]
    return ints[0] if len(ints) == 1 else tuple(ints)


def _padding(values: List[str]):
    if len(values) == 1 and values[0] in ("same", "valid"):
        return values[0]
    if not all(v.strip().lstrip("+-").isdigit() for v in values):
        raise ValueError(f"--padding must be integers, 'same' or 'valid', got {' '.join(values)}")
    return _ints("--padding", values, 0, (1, 2, 4))


def _float(option: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{option} must be a number, got {text!r}") from None


def _prog(args: argparse.Namespace) -> str:
    return getattr(args, "prog", "python -m hpc_kernels")  # set by __main__.main: the name the command was started by


def _named(option: str, values: List[str], names: List[str]) -> dict:
    """NAME=PATH items by name, plain paths to the names not given, in order (a path that contains '='
    but does not start with one of the names is a plain path)."""
    named, plain = {}, []
    for v in values:
        key, sep, rest = v.partition("=")
        if sep and key in names:
            if key in named:
                raise ValueError(f"{option} {key}= given twice")
            named[key] = rest
        else:
            plain.append(v)
    free = [n for n in names if n not in named]
    if len(plain) > len(free):
        raise ValueError(f"{option}: {len(plain)} unnamed file(s) for {len(free)} remaining name(s) of the model "
                         f"({', '.join(free) or 'none'}); the model's names: {', '.join(names)}")
    named.update(zip(free, plain))
    return named


def _run_onnx(args: argparse.Namespace, threads) -> None:
    from .inference import _session, onnx_task

    session = _session(args.model, args.backend, args.layout)
    inputs = _named("--input", args.input, [i.name for i in session.get_inputs()])
    outs = _named("--output", args.output, [o.name for o in session.get_outputs()])
    onnx_task(args.model, inputs, out=outs, outputs=list(outs), threads=threads, backend=args.backend, layout=args.layout)


def run(args: argparse.Namespace) -> int:
    if args.kernel == "onnx":
        return _guarded(args, lambda threads: _run_onnx(args, threads))
    required, optional = _INPUTS[args.kernel]
    if not len(required) <= len(args.input) <= len(required) + len(optional):
        names = " ".join(f"{n}.npy" for n in required) + "".join(f" [{n}.npy]" for n in optional)
        print(f"{_prog(args)} run {args.kernel}: expected --input {names}, got {len(args.input)} file(s)", file=sys.stderr)
        return 2

    def kernel(threads) -> None:
        if args.kernel == "gemm":
            gemm_task(*args.input, out=args.output, alpha=_float("--alpha", args.alpha), beta=_float("--beta", args.beta),
                      trans_a=args.trans_a, trans_b=args.trans_b, threads=threads, backend=args.backend)
        else:
            conv2d_task(*args.input, out=args.output, threads=threads, backend=args.backend,
                        stride=_ints("--stride", args.stride, 1), padding=_padding(args.padding),
                        dilation=_ints("--dilation", args.dilation, 1), groups=_int("--groups", args.groups, 1),
                        layout=args.layout, activation=args.activation, algorithm=args.algorithm)

    return _guarded(args, kernel)


def _guarded(args: argparse.Namespace, step) -> int:
    """Run `step(threads)` under the command's rules: partial outputs removed on SIGTERM/SIGINT, user
    errors as one line and exit 1."""
    # A SIGTERM/SIGINT while the output is written removes the partial file (exit 128 + signal).
    remove_partial_files_on_signals()
    try:
        # --threads: checked by the task (>= 1), which caps it at what the task owns.
        step(None if args.threads is None else _parse_int("--threads", args.threads))
    # Unreadable files (OSError), bad files, shapes or options (ValueError), dtypes (TypeError), a
    # result too large for memory (MemoryError), a backend that is not installed (ImportError): one
    # line naming what was wrong, no traceback (--debug shows it).
    except USER_ERRORS as exc:
        if getattr(args, "debug", False):
            raise
        print(f"{_prog(args)} run {args.kernel}: error: {one_line(exc)}", file=sys.stderr)
        return 1
    return 0
