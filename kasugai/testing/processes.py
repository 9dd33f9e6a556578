"""Processes a test starts, each in its own process group, and proof that none outlives the test.

Every process runs in a new session, so stopping it signals the whole group (anything it forked
included), and a member that outlived its leader is still found: by its process group in /proc.
Each group ever started is remembered; :func:`leftover_process_groups` lists those still alive,
so a test session can fail when its teardown missed one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

_started: list[ManagedProcess] = []


@attrs.define
class ManagedProcess:
    """A running command in its own process group, with its output in a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def exited(self) -> bool:
        """True once the leader has exited (reaping it)."""
        return self.popen.poll() is not None

    def group_alive(self) -> bool:
        """True while a process of the group runs. Zombies do not count: a killed orphan is
        reparented to init, which reaps it when it gets to it (slowly on a loaded machine)."""
        return any(_group_and_state(stat) == (self.popen.pid, True) for stat in _proc_stats())

    def log_tail(self, lines: int = 30) -> str:
        """The end of the process's output, for error messages."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace_seconds: float = 15.0) -> None:
        """SIGTERM the group; SIGKILL it if any member is left after the grace period. Returns
        once every member is gone (or, after SIGKILL's grace too, leaves the rest to
        :func:`leftover_process_groups` to report)."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            self._signal_group(sig)
            if self._wait_group_gone(grace_seconds):
                return

    def _wait_group_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if not self.group_alive():
                self.popen.wait()  # the leader is dead: reap it (at once)
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    def _signal_group(self, sig: signal.Signals) -> None:
        # A group that is already gone is what stopping wants.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)


def start_process(
    name: str,
    argv: Sequence[str],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> ManagedProcess:
    """Start ``argv`` in a new session, stdout and stderr written to ``log_path`` (truncated)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    process = ManagedProcess(name=name, popen=popen, log_path=log_path)
    _started.append(process)
    return process


def leftover_process_groups() -> list[ManagedProcess]:
    """Every process group started here that still has a running process."""
    return [process for process in _started if process.group_alive()]


def _proc_stats() -> list[str]:
    stats = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        # A process may exit between listing /proc and reading its stat file.
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            stats.append(stat.read_text())
    return stats


def _group_and_state(stat: str) -> tuple[int, bool]:
    """(process group, running) from /proc/PID/stat: "pid (comm) state ppid pgrp ...". The
    command name may hold spaces and parentheses, so fields are counted after the last ')'."""
    state, _ppid, pgrp = stat[stat.rindex(")") + 2 :].split()[:3]
    return int(pgrp), state != "Z"
