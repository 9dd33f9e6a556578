"""``kasugai up DIR [--state-dir DIR] [-d]``: run the DataFlows of a directory on this machine.

Foreground by default: the supervisor runs in this process and logs what it does; Ctrl-C or
SIGTERM stops every Pod. ``--detach`` starts the supervisor as a background process (its output
in ``<state>/supervisor.log``) and returns once it is up, or with its errors if it could not
start. Exit status 2 when the inputs are invalid or a Pod cannot run here (nothing is left
running then).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kasugai.adapters.local.layout import StateDir, state_dir
from kasugai.adapters.local.snapshot import read_snapshot
from kasugai.adapters.local.supervisor import Settings, StartError, Supervisor
from kasugai.commands.common import add_plan_options, plan_options
from kasugai.commands.status import print_status
from kasugai.runtime_env import configure_logging

DETACH_TIMEOUT_SECONDS = 300.0  # 14 Python programs on a loaded 2-core machine take a while


def add_state_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        metavar="DIR",
        help="where the local runtime keeps Pods, logs and state.json "
        "(default: $KASUGAI_STATE_DIR, else ./.kasugai)",
    )


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "up", help="run the DataFlows of a directory on this machine, rewiring on every edit"
    )
    parser.add_argument("directory", metavar="DIR", help="directory of resources (YAML/JSON)")
    add_state_dir_option(parser)
    parser.add_argument(
        "-d", "--detach", action="store_true", help="run in the background; return once up"
    )
    parser.add_argument(
        "--journal", metavar="FILE", help="append every event and decision to FILE (replayable)"
    )
    add_plan_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    state = state_dir(args.state_dir)
    if args.detach:
        return _detach(args, state)
    configure_logging(logging.INFO, human=True)
    journal = Path(args.journal).absolute() if args.journal else None
    settings = Settings(Path(args.directory).absolute(), state, plan_options(args), journal=journal)
    return asyncio.run(_foreground(settings))


def report_start_error(error: StartError) -> None:
    for problem in error.problems:
        print(f"kasugai up: error: {problem}", file=sys.stderr)


async def _foreground(settings: Settings) -> int:
    supervisor = Supervisor(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, supervisor.request_stop)
    try:
        await supervisor.start()
    except StartError as error:
        report_start_error(error)
        return 2
    try:
        snapshot = read_snapshot(settings.state)
        if snapshot is not None:
            print_status(snapshot, settings.state, running=True)
        await supervisor.wait()
    finally:
        await supervisor.close()
    return 0


def _detach(args: argparse.Namespace, state: StateDir) -> int:
    """Start ``kasugai up`` in the background and wait until it is up (or has failed)."""
    state.root.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "kasugai.cli", "up", str(Path(args.directory).absolute())]
    argv += ["--state-dir", str(state.root), "--lb-pool", args.lb_pool]
    argv += ["--sriov-resource", args.sriov_resource, "--gpu-resource", args.gpu_resource]
    if args.journal:
        argv += ["--journal", str(Path(args.journal).absolute())]
    offset = state.log_file.stat().st_size if state.log_file.exists() else 0
    with state.log_file.open("ab") as log:
        child = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "KASUGAI_LOG_FORMAT": "json"},
        )
    deadline = time.monotonic() + DETACH_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        code = child.poll()
        if code is not None:
            with state.log_file.open("rb") as log:
                log.seek(offset)
                sys.stderr.write(log.read().decode(errors="replace"))
            return code or 1
        snapshot = read_snapshot(state)
        supervisor = (snapshot or {}).get("supervisor") or {}
        if supervisor.get("pid") == child.pid and supervisor.get("phase") == "Running":
            assert snapshot is not None
            print_status(snapshot, state, running=True)
            print(
                f"supervisor running in the background (pid {child.pid}); stop it with "
                f"`kasugai down{_state_flag(args)}`"
            )
            return 0
        time.sleep(0.1)
    print(
        f"kasugai up: error: the supervisor (pid {child.pid}) did not come up within "
        f"{DETACH_TIMEOUT_SECONDS:.0f}s; see {state.log_file}",
        file=sys.stderr,
    )
    return 1


def _state_flag(args: argparse.Namespace) -> str:
    return f" --state-dir {args.state_dir}" if args.state_dir else ""
