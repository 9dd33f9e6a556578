"""Processes a test starts, each in its own process group, and proof that none outlives the test.

Every process runs in a new session, so stopping it signals the whole group (anything it forked
included) and a leftover is visible to ``os.killpg(pgid, 0)`` even when the leader has been
reaped. Each group ever started is remembered; :func:`leftover_process_groups` lists those still
alive, so a test session can fail when its teardown missed one.
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
        """True while any process of the group exists (a leader not yet reaped counts)."""
        try:
            os.killpg(self.popen.pid, 0)
        except ProcessLookupError:
            return False
        return True

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
            self.popen.poll()  # reap the leader: a zombie still counts as a member
            if not self.group_alive():
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
    """Every process group started here that still has a live process.

    A leader that exited on its own is reaped first: a zombie is not a leftover.
    """
    for process in _started:
        process.exited()
    return [process for process in _started if process.group_alive()]
