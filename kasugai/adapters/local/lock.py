"""One supervisor per state directory: an exclusive ``flock`` held for the supervisor's life.

The kernel releases the lock when the supervisor dies, however it dies, so a stale PID file can
never be mistaken for a running supervisor (and a recycled PID is never signalled).
"""

from __future__ import annotations

import fcntl
import os

from kasugai.adapters.local.layout import StateDir

__all__ = ["AlreadyRunning", "SupervisorLock", "holder"]


class AlreadyRunning(Exception):
    """Another supervisor holds the state directory."""


class SupervisorLock:
    def __init__(self, state: StateDir) -> None:
        self._state = state
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock and write our PID; ``AlreadyRunning`` naming the holder otherwise."""
        self._state.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._state.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid = _recorded_pid(self._state)
            raise AlreadyRunning(
                f"a supervisor (pid {pid}) already runs with state directory {self._state.root}; "
                "stop it with `kasugai down`, or give another --state-dir"
            ) from None
        self._fd = fd
        self._state.pid_file.write_text(f"{os.getpid()}\n")

    def release(self) -> None:
        if self._fd is None:
            return
        self._state.pid_file.unlink(missing_ok=True)
        os.close(self._fd)  # closing the descriptor drops the lock
        self._fd = None


def _recorded_pid(state: StateDir) -> int | None:
    try:
        return int(state.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def holder(state: StateDir) -> int | None:
    """The PID of the supervisor that holds the lock now; None if none does."""
    try:
        fd = os.open(state.lock_file, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return _recorded_pid(state) or -1
    finally:
        os.close(fd)  # also drops the lock if we took it
    return None
