"""The ``rasterfast`` command: one subcommand per module of :mod:`rasterfast.commands`.

Each module defines ``register(subparsers)`` (adds its parser, with ``func`` set
to the function that runs it and returns an exit status). Modules are imported
only when the command line is parsed, so ``import rasterfast`` stays light.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: Subcommand modules under rasterfast.commands, in the order --help lists them.
COMMANDS = [
    "demo",
    "synth",
    "build",
    "render",
    "export",
    "verify",
    "inspect",
    "preview",
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="rasterfast",
        description="Quick, Draw! drawings to memory-mapped uint8 tensor shards.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"rasterfast.commands.{name}").register(sub)
    return parser


def _version() -> str:
    from . import __version__

    return f"rasterfast {__version__}"


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    from .errors import StrokeParseError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (StrokeParseError, FileNotFoundError, ValueError) as err:
        print(f"rasterfast {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rasterfast {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
