"""The parsers of every `hpc-kernels` subcommand: each option's help ends with its default, so
`--help` shows what an option left out means (choices already show in the option's metavar), and
an option a subcommand does not take is reported by that subcommand, with its usage line."""
from __future__ import annotations

import argparse


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """ArgumentDefaultsHelpFormatter without its noise: no "(default: None)" or "(default: False)"
    (an option whose absence means "not set" or a flag), and no second default where the help
    text already states one in its own words."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if default in (None, False, argparse.SUPPRESS) or "default" in text:
            return text
        if isinstance(default, (list, tuple)):  # nargs options: "1 2", as typed, not "['1', '2']"
            return f"{text} (default: {' '.join(map(str, default))})"
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """A subcommand's parser that rejects what it does not know itself. A plain subparser hands
    unknown options back to the top-level parser, whose error then shows the top-level usage
    (`python -m hpc_kernels: error: unrecognized arguments: --activation relu`) rather than the
    usage of the subcommand they were given to."""

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error("unrecognized arguments: " + " ".join(extras))
        return namespace, extras


def add_subparsers(parser: argparse.ArgumentParser, **kwargs):
    """Subcommands whose parsers are `Parser`s."""
    return parser.add_subparsers(parser_class=Parser, **kwargs)


def add_parser(sub, name: str, **kwargs) -> argparse.ArgumentParser:
    """A subcommand's parser with this formatter (argparse does not pass a parent's formatter_class down)."""
    return sub.add_parser(name, formatter_class=HelpFormatter, **kwargs)


def positive(text: str) -> int:
    """An argparse type: a whole number >= 1 (a count of workers, threads, rounds or images), so
    0 or a negative value is a usage error at parse time, before anything starts."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n
