"""Finds the function process(es) to signal, by name, within this Pod, from ``/proc``.

Matching (contract section 4, kasugai rules): a process matches the name N when
  * ``argv[0] == N`` or ``basename(argv[0]) == N`` (``wrapper`` matches ``/wrapper``), or
  * its command line, arguments joined by spaces, starts with N (the original sidecar's rule), or
  * it is a console script: ``argv[0]`` is a Python interpreter (``python``, ``python3``,
    ``python3.11``, any directory) and ``argv[1] == N`` or ``basename(argv[1]) == N`` (the
    kernel runs ``kasugai-calc ...`` as ``/path/python3 /path/bin/kasugai-calc ...``).
Only processes of the same Pod count: when ``K8S_POD_NAME`` is set, a process must have the same
``K8S_POD_NAME`` in ``/proc/<pid>/environ`` (several Pods share one machine in the local runtime).
A process whose environment cannot be read (another user, no ptrace right) is taken as part of
the Pod: inside a Pod's shared PID namespace every visible process is the Pod's.

``handles_sighup`` reads the caught-signal mask: SIGHUP's default action ends a process, so a
function that has not installed its handler yet (still starting) must not be signalled.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Sequence

import attrs

PROC = "/proc"
POD_NAME_ENV = "K8S_POD_NAME"
_PYTHON = re.compile(r"python[0-9.]*")


@attrs.frozen
class ProcessInfo:
    pid: int
    argv: tuple[str, ...]
    handles_sighup: bool


def name_matches(argv: Sequence[str], name: str) -> bool:
    """Whether a command line is the process called ``name`` (rules in the module doc)."""
    if not argv or not name:
        return False
    if name in (argv[0], os.path.basename(argv[0])):
        return True
    if " ".join(argv).startswith(name):
        return True
    return (
        len(argv) > 1
        and _PYTHON.fullmatch(os.path.basename(argv[0])) is not None
        and name in (argv[1], os.path.basename(argv[1]))
    )


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as stream:
            return stream.read()
    except (FileNotFoundError, ProcessLookupError):
        return None  # the process ended while we looked


def _pod_name(pid: int) -> str | None:
    """The process's K8S_POD_NAME ("" when unset); None when its environment is unreadable."""
    try:
        with open(f"{PROC}/{pid}/environ", "rb") as stream:
            environ = stream.read()
    except PermissionError:
        return None
    except (FileNotFoundError, ProcessLookupError):
        return ""
    prefix = POD_NAME_ENV.encode() + b"="
    for entry in environ.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode(errors="replace")
    return ""


def _status(pid: int) -> dict[str, str]:
    raw = _read(f"{PROC}/{pid}/status") or b""
    fields = {}
    for line in raw.decode(errors="replace").splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _catches_sighup(status: dict[str, str]) -> bool:
    mask = int(status.get("SigCgt", "0") or "0", 16)
    return bool(mask >> (signal.SIGHUP - 1) & 1)


def find_processes(name: str, pod_name: str | None) -> list[ProcessInfo]:
    """Every live process of this Pod called ``name``, never this process itself."""
    own = os.getpid()
    found: list[ProcessInfo] = []
    # os.listdir and open, not pathlib: this scan is on every reload's path (3x faster).
    for entry in os.listdir(PROC):
        if not entry.isdigit() or int(entry) == own:
            continue
        pid = int(entry)
        cmdline = _read(f"{PROC}/{pid}/cmdline")
        if not cmdline:
            continue  # kernel thread, zombie, or gone
        argv = tuple(arg.decode(errors="replace") for arg in cmdline.rstrip(b"\0").split(b"\0"))
        if not name_matches(argv, name):
            continue
        if pod_name:
            theirs = _pod_name(pid)
            if theirs is not None and theirs != pod_name:
                continue
        status = _status(pid)
        if status.get("State", "").startswith("Z"):
            continue
        found.append(ProcessInfo(pid, argv, _catches_sighup(status)))
    return found
