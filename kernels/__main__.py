"""Command line: `hpc-kernels` (the console script) or `python -m hpc_kernels`, with the subcommands
`info`, `bench gemm|conv2d|peak|onnx ...`, `tune [conv2d|gemm] --backend cpu|numba|opencl|cuda ...`,
`run gemm|conv2d ...` (a workflow step), `demo` (the demo workflow on an embedded Dask cluster) and
`blas` (libkernels_blas.so: path, include folder, link and LD_PRELOAD recipes)."""
from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional

# The name usage lines and error messages give the program: how it was started.
PROG = "python -m hpc_kernels"
CONSOLE_PROG = "hpc-kernels"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    from ._cli_format import HelpFormatter, add_parser, add_subparsers
    from ._version import __version__

    parser = argparse.ArgumentParser(prog=prog, description="hpc-kernels command line", formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error instead of its one-line message")
    sub = add_subparsers(parser, dest="command", required=True, metavar="{info,bench,tune,run,demo,blas}")
    p_info = add_parser(sub, "info", help="version, ISAs, block sizes, threads and backends")
    p_info.add_argument("--json", action="store_true", help="print as JSON")
    p_bench = add_parser(sub, "bench", help="benchmark against the reference libraries")
    from .bench.cli import add_arguments

    add_arguments(p_bench)
    p_tune = add_parser(sub, "tune", help="measure a backend's parameters into the tuning store")
    from .bench.tune.cli import add_arguments as add_tune_arguments

    add_tune_arguments(p_tune)
    p_run = add_parser(sub, "run", help="run one kernel on .npy files (a workflow's binary step)")
    from .workflow.cli import add_arguments as add_run_arguments

    add_run_arguments(p_run)
    p_demo = add_parser(sub, "demo", help="demo workflow (simulation, analytics, inference) on an embedded Dask cluster")
    from .demo.cli import add_arguments as add_demo_arguments

    add_demo_arguments(p_demo)
    p_blas = add_parser(sub, "blas", help="libkernels_blas.so (BLAS/CBLAS GEMM ABI): path, include folder, link and run recipes")
    p_blas.add_argument("--json", action="store_true", help="print as JSON")
    return parser


def main(argv: Optional[List[str]] = None, prog: str = PROG) -> int:
    args = build_parser(prog).parse_args(argv)
    args.prog = prog  # the subcommands' own messages start with it
    from ._errors import USER_ERRORS, one_line

    try:
        return _run(args)
    except USER_ERRORS as exc:  # bad input or options, files, memory: one line (a bug keeps its traceback)
        if args.debug:
            raise
        print(f"{prog} {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"{prog} {args.command}: interrupted", file=sys.stderr)
        return 130  # 128 + SIGINT, as a shell reports a process SIGINT ended


def console() -> int:
    """The `hpc-kernels` console script ([project.scripts]): the same command under its own name."""
    return main(prog=CONSOLE_PROG)


def _run(args: argparse.Namespace) -> int:
    if args.command == "info":
        from .info import info

        d = info()
        print(json.dumps(d, indent=2) if args.json else d)  # str(d): the text of show_config()
        return 0
    if args.command == "tune":
        from .bench.tune.cli import run as run_tune

        return run_tune(args)
    if args.command == "run":
        from .workflow.cli import run as run_step

        return run_step(args)
    if args.command == "blas":
        from .blas import format_recipes, recipes

        r = recipes()
        print(json.dumps(r, indent=2) if args.json else format_recipes(r))
        return 0
    if args.command == "demo":
        from .demo.cli import run as run_demo

        return run_demo(args)
    from .bench.cli import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
