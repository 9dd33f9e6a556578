"""The ``kasugai`` command: one entry point, one module per subcommand (``kasugai.commands``).

Each command module exposes ``register(subparsers)``, which adds its parser and sets
``func(args) -> int`` (the exit status). Add a command by adding its module to ``COMMANDS``.
Input errors (``InputError``) print one line naming the file and field and exit with status 2,
never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence

import structlog

from kasugai import __version__
from kasugai.adapters.files import InputError
from kasugai.commands import (
    controller,
    demo,
    diff,
    down,
    explain,
    graph,
    logs,
    plan,
    replay,
    send_video,
    status,
    up,
)
from kasugai.commands import exec as exec_command
from kasugai.core import faults
from kasugai.runtime_env import configure_logging

COMMANDS = (
    plan,
    diff,
    graph,
    up,
    down,
    status,
    explain,
    logs,
    exec_command,
    demo,
    send_video,
    replay,
    controller,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kasugai", description="Function chains on Kubernetes: plan, diff, run them."
    )
    parser.add_argument("--version", action="version", version=f"kasugai {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def log_fault(what: str, error: BaseException) -> None:
    """A fault the core survived: its type and code locations, never its message (which may
    quote an input)."""
    frames = traceback.extract_tb(error.__traceback__)
    structlog.get_logger("kasugai").error(
        "internal error; the object is treated as invalid",
        during=what,
        error=type(error).__name__,
        at=[f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in frames[-5:]],
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # no command: what the commands are, as a usage error
        parser.print_help(sys.stderr)
        return 2
    configure_logging(logging.INFO if args.verbose else logging.WARNING, human=True)
    stop_logging_faults = faults.listen(log_fault)
    try:
        status: int = args.func(args)
    except InputError as exc:
        print(f"kasugai {args.command}: error: {exc}", file=sys.stderr)
        return 2
    finally:
        stop_logging_faults()  # main() may run in-process (tests): leave no listener behind
    return status


if __name__ == "__main__":
    sys.exit(main())
