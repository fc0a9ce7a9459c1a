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
    from ._version import __version__

    return f"rasterfast {__version__}"


def positive_int(text: str) -> int:
    """An argparse ``type``: an integer >= 1 (``--workers 0`` is a mistake, not "all cores")."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


#: Exit status of a command whose output pipe was closed (``| head``): 128 + SIGPIPE, as a
#: process killed by SIGPIPE reports it (what ``git log | head`` gives).
EXIT_BROKEN_PIPE = 141


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    from .errors import StrokeParseError

    command = "?"
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit:
            sys.stdout.flush()       # --help into a closed pipe fails here, not at exit
            raise
        command = args.command
        status = int(args.func(args) or 0)
        sys.stdout.flush()           # a closed pipe shows here, not at interpreter exit
        return status
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except (StrokeParseError, ValueError, OSError, ModuleNotFoundError) as err:
        # OSError: a finished --out, a directory that cannot be written, a missing input;
        # their messages name the path and the reason, a traceback adds nothing for a user.
        # ModuleNotFoundError: an optional dependency (OpenCV for preview) is not installed.
        print(f"rasterfast {command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rasterfast {command}: interrupted", file=sys.stderr)
        return 130


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's final flush cannot fail again.

    See https://docs.python.org/3/library/signal.html#note-on-sigpipe
    """
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (captured in tests)
        pass


if __name__ == "__main__":
    sys.exit(main())
