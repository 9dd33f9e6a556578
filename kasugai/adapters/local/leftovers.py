"""Processes of a runtime that outlived it, found by the marker every Pod process carries.

``kasugai down`` checks for them after the supervisor exited and reports each by PID; a new
supervisor checks for those of the previous run of its state directory (one killed with SIGKILL
cannot stop grandchildren that left their process group). Either way they are killed: they would
hold the Pods' addresses and ports.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

import structlog

from kasugai.adapters.local.layout import StateDir
from kasugai.adapters.local.podspec import RUNTIME_ID_ENV
from kasugai.adapters.local.processes import LeftOver, marked_processes

__all__ = ["find_leftovers", "stop_leftovers"]

log = structlog.get_logger("kasugai.local")


def find_leftovers(snapshot: dict[str, Any] | None) -> list[LeftOver]:
    """Live processes of the runtime that wrote ``snapshot``."""
    runtime_id = ((snapshot or {}).get("supervisor") or {}).get("runtimeId")
    return marked_processes(RUNTIME_ID_ENV, str(runtime_id)) if runtime_id else []


def stop_leftovers(state: StateDir, snapshot: dict[str, Any] | None) -> list[LeftOver]:
    """SIGKILL every leftover of the run that wrote ``snapshot``; the ones found."""
    found = find_leftovers(snapshot)
    for process in found:
        log.warning(
            "killing a process left by an earlier run",
            pid=process.pid,
            command=process.command,
            state=str(state.root),
        )
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
            os.kill(process.pid, signal.SIGKILL)
    return found
