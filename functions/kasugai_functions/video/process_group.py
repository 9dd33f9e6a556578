"""Processes run in their own session, signalled as a group, and every child reaped.

A pipeline is usually ``bash -c "gst-launch-1.0 ..."``: bash may fork, so signals go to the whole
process group. The wrapper becomes a child subreaper, so that grandchildren orphaned by a dying
pipeline are re-parented to it (not to init, which may not reap them in a container) and can be
reaped here.
"""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Sequence

_PR_SET_CHILD_SUBREAPER = 36
# Signals a pipeline must see with their default action even when the wrapper was started with
# them ignored (as a background job of a non-interactive shell is).
_DEFAULT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGPIPE)


def become_subreaper() -> None:
    """Make orphaned descendants this process's children (Linux prctl)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(err)}")


def spawn_in_new_session(argv: Sequence[str]) -> int:
    """Start ``argv`` (searched on PATH) as leader of a new session and process group."""
    return os.posix_spawnp(
        argv[0],
        list(argv),
        os.environ,
        setsid=True,
        setsigmask=(),
        setsigdef=_DEFAULT_SIGNALS,
    )


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to process group ``pgid``; False if no process is left in it."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def reap_children() -> list[tuple[int, int]]:
    """Reap every child that has exited; return (pid, exit code or -signal) for each."""
    reaped: list[tuple[int, int]] = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped.append((pid, os.waitstatus_to_exitcode(status)))
