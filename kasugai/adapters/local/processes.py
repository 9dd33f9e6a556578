"""Container processes: one process group (a session) each, tied to the supervisor's life.

Every container runs in a new session, so stopping it signals everything it forked. The kernel
kills the container's leader when the supervisor dies (``PR_SET_PDEATHSIG``, set in the child
before exec through ctypes; the function pointer is looked up in the parent, so the forked child
runs almost no Python). A graceful stop is SIGTERM to the group, a wait of the grace period, then
SIGKILL to whatever is left of the group. ``marked_processes`` finds every process carrying a
runtime's marker variable, which also catches one that left its group (a ``setsid`` child):
``kasugai down`` uses it to prove that nothing is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import attrs

from kasugai.adapters.local.podspec import ContainerSpec

__all__ = [
    "LeftOver",
    "group_alive",
    "marked_processes",
    "process_gone",
    "spawn",
    "stop_group",
]

_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl
_GROUP_POLL_SECONDS = 0.02


def _die_with(parent: int) -> Callable[[], None]:
    def preexec() -> None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the supervisor died before the line above took effect
            os._exit(1)

    return preexec


async def spawn(spec: ContainerSpec) -> asyncio.subprocess.Process:
    """Start a container's command in its own session, output appended to its log file."""
    with open(spec.log, "ab") as log:
        return await asyncio.create_subprocess_exec(
            *spec.argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(spec.env),
            cwd=spec.cwd,
            start_new_session=True,
            preexec_fn=_die_with(os.getpid()),
        )


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is gone: what a stop wants
        os.killpg(pgid, sig)


def process_gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie waiting for its parent counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return status.rsplit(")", 1)[-1].split()[0] in ("Z", "X")


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


async def stop_group(process: asyncio.subprocess.Process, grace_seconds: float) -> None:
    """SIGTERM the group, wait up to the grace period for all of it, then SIGKILL the rest."""
    pgid = process.pid
    deadline = time.monotonic() + grace_seconds
    _signal_group(pgid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):  # then the hard stop below
        await asyncio.wait_for(process.wait(), timeout=grace_seconds)
    # The leader is reaped now or will be; other members of its group get the rest of the grace.
    while group_alive(pgid) and process.returncode is not None and time.monotonic() < deadline:
        await asyncio.sleep(_GROUP_POLL_SECONDS)
    _signal_group(pgid, signal.SIGKILL)
    await process.wait()


@attrs.frozen
class LeftOver:
    pid: int
    command: str


def marked_processes(variable: str, value: str) -> list[LeftOver]:
    """Every live process whose environment has ``variable=value`` (zombies do not count)."""
    marker = f"{variable}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            status = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue  # ended while we looked, or not ours to read
        state = status.rsplit(")", 1)[-1].split()[0]
        if marker in environ.split(b"\0") and state != "Z":
            command = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
            found.append(LeftOver(int(entry.name), command))
    return found
