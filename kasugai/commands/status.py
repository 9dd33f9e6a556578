"""``kasugai status``: the local runtime at a glance, kubectl-style tables.

DataFlows with their status, then Pods (function, phase, restarts, address, PIDs), then the
connections (which function sends to which address) and anything that keeps a Pod or an input
from being applied. Read from ``state.json``; exit status 0 while a supervisor runs, 1 if none
does (the last known state is shown, marked as such; after ``down`` every DataFlow is Stopped).
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.table import Table

from kasugai.adapters.local.layout import StateDir, state_dir
from kasugai.adapters.local.lock import holder
from kasugai.adapters.local.snapshot import read_snapshot

__all__ = ["print_status"]

WIDE_OUTPUT = 250


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "status", help="show the local runtime's DataFlows, Pods and connections"
    )
    parser.add_argument("--state-dir", metavar="DIR", help="(default: ./.kasugai)")
    parser.set_defaults(func=run)


def _table(*columns: str) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold", show_edge=False)
    for column in columns:
        table.add_column(column, no_wrap=column != "MESSAGE")
    return table


def _dataflows(snapshot: dict[str, Any], stopped: bool) -> Table:
    table = _table("NAMESPACE", "DATAFLOW", "STATUS", "FUNCTIONS", "CONNECTIONS", "MESSAGE")
    for dataflow in snapshot.get("dataflows", []):
        status = dataflow["status"]
        functions = status.get("functions", [])
        connections = status.get("connections", [])
        running = sum(f.get("phase") == "Running" for f in functions)
        published = 0 if stopped else sum(bool(c.get("published")) for c in connections)
        # After `down` nothing runs: the planner's "Deploying, Pods not observed" would mislead.
        state = "Stopped" if stopped else status.get("status", "")
        style = {"Deployed": "green", "Error": "red", "Degraded": "yellow"}.get(state, "")
        table.add_row(
            dataflow["namespace"],
            dataflow["name"],
            f"[{style}]{state}[/]" if style else state,
            f"{running}/{len(functions)}",
            f"{published}/{len(connections)}",
            "" if state in ("Deployed", "Stopped") else status.get("message", ""),
        )
    return table


def _pods(snapshot: dict[str, Any]) -> Table:
    table = _table("POD", "FUNCTION", "READY", "STATUS", "RESTARTS", "IP", "PIDS")
    for pod in snapshot.get("pods", []):
        containers = pod.get("containers", [])
        ready = sum(c.get("state") == "Running" for c in containers)
        waiting = [c.get("reason") for c in containers if c.get("state") != "Running"]
        table.add_row(
            pod["name"],
            pod.get("function", ""),
            f"{ready}/{len(containers)}",
            next((r for r in waiting if r), pod.get("phase", "")),
            str(sum(c.get("restartCount", 0) for c in containers)),
            pod.get("address", ""),
            ",".join(str(c["pid"]) for c in containers if c.get("pid")),
        )
    return table


def _connections(snapshot: dict[str, Any]) -> Table:
    table = _table("DATAFLOW", "FROM", "TO", "DESTINATION", "STATE")
    for connection in snapshot.get("connections", []):
        table.add_row(
            connection["dataflow"],
            connection["from"],
            connection["to"],
            connection.get("destination") or connection.get("reason", ""),
            connection.get("state", ""),
        )
    return table


def print_status(snapshot: dict[str, Any], state: StateDir, running: bool) -> None:
    # Like kubectl, lines are as long as they need to be when the output is not a terminal.
    console = Console()
    if not console.is_terminal:
        console = Console(width=WIDE_OUTPUT)
    supervisor = snapshot.get("supervisor", {})
    if running:
        console.print(
            f"supervisor pid {supervisor.get('pid')} running {supervisor.get('source')} "
            f"(state {state.root})"
        )
    else:
        console.print(
            f"[yellow]no supervisor running[/] (state {state.root}); last known state "
            f"({supervisor.get('phase', 'unknown')}):"
        )
    stopped = not running and supervisor.get("phase") in ("Stopped", "Failed")
    console.print(_dataflows(snapshot, stopped))
    if snapshot.get("pods"):
        console.print()
        console.print(_pods(snapshot))
    if snapshot.get("connections") and not stopped:
        console.print()
        console.print(_connections(snapshot))
    for problem in snapshot.get("problems", []):
        console.print(f"[red]problem:[/] {problem}", highlight=False)


def run(args: argparse.Namespace) -> int:
    state = state_dir(args.state_dir)
    snapshot = read_snapshot(state)
    if snapshot is None:
        print(
            f"no local runtime has run with state directory {state.root}; start one with "
            "`kasugai up DIR`"
        )
        return 1
    running = holder(state) is not None
    print_status(snapshot, state, running)
    return 0 if running else 1
