"""Command line: `python -m hpc_kernels info`, `python -m hpc_kernels bench gemm|conv2d|peak ...`,
`python -m hpc_kernels tune [conv2d|gemm] --backend cpu|numba|opencl|cuda ...`,
`python -m hpc_kernels run gemm|conv2d ...` (a workflow step),
`python -m hpc_kernels demo` (the demo workflow on an embedded Dask cluster) and
`python -m hpc_kernels blas` (libkernels_blas.so: path, include folder, link and LD_PRELOAD recipes)."""
from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hpc_kernels", description="hpc-kernels command line")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error instead of its one-line message")
    sub = parser.add_subparsers(dest="command", required=True)
    p_info = sub.add_parser("info", help="version, ISAs, block sizes, threads and backends")
    p_info.add_argument("--json", action="store_true", help="print as JSON")
    p_bench = sub.add_parser("bench", help="benchmark against the reference libraries")
    from .bench.cli import add_arguments

    add_arguments(p_bench)
    p_tune = sub.add_parser("tune", help="measure a backend's parameters into the tuning store")
    from .bench.tune.cli import add_arguments as add_tune_arguments

    add_tune_arguments(p_tune)
    p_run = sub.add_parser("run", help="run one kernel on .npy files (a workflow's binary step)")
    from .workflow.cli import add_arguments as add_run_arguments

    add_run_arguments(p_run)
    p_demo = sub.add_parser("demo", help="demo workflow (simulation, analytics, inference) on an embedded Dask cluster")
    from .demo.cli import add_arguments as add_demo_arguments

    add_demo_arguments(p_demo)
    p_blas = sub.add_parser("blas", help="libkernels_blas.so (BLAS/CBLAS GEMM ABI): path, include folder, link and run recipes")
    p_blas.add_argument("--json", action="store_true", help="print as JSON")
    args = parser.parse_args(argv)
    from ._errors import USER_ERRORS, one_line

    try:
        return _run(args)
    except USER_ERRORS as exc:  # bad input or options, files, memory: one line (a bug keeps its traceback)
        if args.debug:
            raise
        print(f"python -m hpc_kernels {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"python -m hpc_kernels {args.command}: interrupted", file=sys.stderr)
        return 130  # 128 + SIGINT, as a shell reports a process SIGINT ended


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
