"""Processes of a runtime that outlived it, found by the marker every Pod process carries.

A supervisor checks for its own after stopping its Pods (a process that left its process group
escapes the group kill), and for those of the previous run of its state directory at start-up
(a supervisor killed with SIGKILL could not stop them); ``kasugai down`` checks once more after
the supervisor exited and reports each by PID. They are killed: they would hold the Pods'
addresses and ports.
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

__all__ = ["find_leftovers", "runtime_id_of", "stop_leftovers"]

log = structlog.get_logger("kasugai.local")


def runtime_id_of(snapshot: dict[str, Any] | None) -> str | None:
    """The marker value of the run that wrote ``snapshot``."""
    runtime_id = ((snapshot or {}).get("supervisor") or {}).get("runtimeId")
    return str(runtime_id) if runtime_id else None


def find_leftovers(runtime_id: str | None) -> list[LeftOver]:
    """Live processes of the run with this marker value."""
    return marked_processes(RUNTIME_ID_ENV, runtime_id) if runtime_id else []


def stop_leftovers(state: StateDir, runtime_id: str | None) -> list[LeftOver]:
    """SIGKILL every live process of the run with this marker value; the ones found."""
    found = find_leftovers(runtime_id)
    for process in found:
        log.warning(
            "killing a process that outlived its Pod",
            pid=process.pid,
            command=process.command,
            state=str(state.root),
        )
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
            os.kill(process.pid, signal.SIGKILL)
    return found
