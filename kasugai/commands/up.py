"""``kasugai up DIR [--state-dir DIR] [-d]``: run the DataFlows of a directory on this machine.

Foreground by default: the supervisor runs in this process and logs what it does; Ctrl-C or
SIGTERM stops every Pod. ``--detach`` starts the supervisor as a background process (its output
in ``<state>/supervisor.log``) and returns once it is up, or with its errors if it could not
start. Exit status 2 when the inputs are invalid or a Pod cannot run here (nothing is left
running then).

The live page of each DataFlow is served at ``--view`` (default 127.0.0.1:8765, ``off``: not
at all); its URL is printed once and kept in ``state.json``. When the default port is taken
(another ``kasugai up``), ``up`` runs without the page and says so; an address given with
``--view`` that cannot be served is an error.
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
from kasugai.view.page.local import DEFAULT_VIEW, LocalPage, ViewAddressError, parse_view

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
    parser.add_argument(
        "--view",
        metavar="ADDRESS:PORT",
        help=f"serve the live page of each DataFlow here (default: {DEFAULT_VIEW}; port 0: any "
        "free one; 'off': no page)",
    )
    parser.add_argument(
        "--view-public",
        action="store_true",
        help="allow --view on an address that is not loopback: the page shows every "
        "function's address and the Events, without any login, to whoever can reach it",
    )
    add_plan_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    state = state_dir(args.state_dir)
    try:
        view = parse_view(args.view or DEFAULT_VIEW, args.view_public)
    except ViewAddressError as error:
        print(f"kasugai up: error: {error}", file=sys.stderr)
        return 2
    if args.detach:
        return _detach(args, state)
    configure_logging(logging.INFO, human=True)
    journal = Path(args.journal).absolute() if args.journal else None
    settings = Settings(Path(args.directory).absolute(), state, plan_options(args), journal=journal)
    page = None
    if view is not None:
        try:
            page = LocalPage(*view, public=args.view_public)
        except OSError as error:
            if args.view is not None:
                print(f"kasugai up: error: --view {args.view}: {error.strerror}", file=sys.stderr)
                return 2
            print(
                f"kasugai up: the live page is not served: {DEFAULT_VIEW} is taken "
                f"({error.strerror}); choose another with --view ADDRESS:PORT",
                file=sys.stderr,
            )
    return asyncio.run(_foreground(settings, page))


def report_start_error(error: StartError) -> None:
    for problem in error.problems:
        print(f"kasugai up: error: {problem}", file=sys.stderr)


async def _foreground(settings: Settings, page: LocalPage | None = None) -> int:
    supervisor = Supervisor(settings)
    if page is not None:
        supervisor.on_snapshot = page.snapshot
        supervisor.reconciler.on_transition = page.transition
        supervisor.view_url = page.url
        page.start()
        print(f"live page: {page.url}", flush=True)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, supervisor.request_stop)
    try:
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
    finally:
        if page is not None:
            page.stop()
    return 0


def _detach(args: argparse.Namespace, state: StateDir) -> int:
    """Start ``kasugai up`` in the background and wait until it is up (or has failed)."""
    state.root.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "kasugai.cli", "up", str(Path(args.directory).absolute())]
    argv += ["--state-dir", str(state.root), "--lb-pool", args.lb_pool]
    argv += ["--sriov-resource", args.sriov_resource, "--gpu-resource", args.gpu_resource]
    if args.journal:
        argv += ["--journal", str(Path(args.journal).absolute())]
    if args.view is not None:
        argv += ["--view", args.view]
    if args.view_public:
        argv.append("--view-public")
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
            if supervisor.get("view"):
                print(f"live page: {supervisor['view']}")
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
