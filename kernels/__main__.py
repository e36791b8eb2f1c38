"""Command line: `python -m kernels info` and `python -m kernels bench gemm ...`."""
from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kernels", description="hpc-kernels command line")
    sub = parser.add_subparsers(dest="command", required=True)
    p_info = sub.add_parser("info", help="version, ISAs, block sizes, threads and backends")
    p_info.add_argument("--json", action="store_true", help="print as JSON")
    p_bench = sub.add_parser("bench", help="benchmark against the reference libraries")
    from .bench.cli import add_arguments

    add_arguments(p_bench)
    args = parser.parse_args(argv)

    if args.command == "info":
        from .info import format_info, info

        d = info()
        print(json.dumps(d, indent=2) if args.json else format_info(d))
        return 0
    from .bench.cli import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
