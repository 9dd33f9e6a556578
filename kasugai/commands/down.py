"""``kasugai down``: stop the local runtime, then prove that no process of it is left.

The supervisor gets SIGTERM and stops every Pod (SIGTERM to each process group, grace period,
SIGKILL). Then every process still carrying the runtime's marker is reported by PID and killed;
the exit status is 1 if there was any (it would be a bug worth reporting), else 0.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from typing import Any

from kasugai.adapters.local.layout import StateDir, state_dir
from kasugai.adapters.local.leftovers import runtime_id_of, stop_leftovers
from kasugai.adapters.local.lock import holder
from kasugai.adapters.local.processes import process_gone
from kasugai.adapters.local.snapshot import read_snapshot

POLL_SECONDS = 0.05


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "down", help="stop the local runtime and every process it started"
    )
    parser.add_argument("--state-dir", metavar="DIR", help="(default: ./.kasugai)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=90.0,
        help="seconds to wait for a graceful stop before killing the supervisor (default: 90)",
    )
    parser.set_defaults(func=run)


def _wait_stopped(state: StateDir, pid: int, timeout: float) -> bool:
    """Until the supervisor released the state directory and exited; False on timeout."""
    deadline = time.monotonic() + timeout
    while holder(state) is not None or not process_gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


def run(args: argparse.Namespace) -> int:
    state = state_dir(args.state_dir)
    snapshot = read_snapshot(state)
    pid = holder(state)
    deadline = time.monotonic() + 5
    while pid == -1 and time.monotonic() < deadline:  # locked, PID file not written yet
        time.sleep(POLL_SECONDS)
        pid = holder(state)
    if pid is None:
        print(f"no supervisor running (state directory {state.root})")
    elif pid > 0:
        os.kill(pid, signal.SIGTERM)
        print(f"stopping the supervisor (pid {pid})...")
        if not _wait_stopped(state, pid, args.timeout):
            print(
                f"kasugai down: the supervisor (pid {pid}) did not stop within "
                f"{args.timeout:.0f}s; killing it",
                file=sys.stderr,
            )
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _wait_stopped(state, pid, 10)
    survivors = stop_leftovers(state, runtime_id_of(read_snapshot(state) or snapshot))
    for process in survivors:
        print(
            f"kasugai down: left behind and killed: pid {process.pid}: {process.command}",
            file=sys.stderr,
        )
    if survivors:
        return 1
    print("stopped; no process left")
    return 0
