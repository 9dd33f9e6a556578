"""The process groups behind the cluster fixture: stopping one leaves nothing behind, and the
session's leftover check sees a group that was not stopped (so that check can fail)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from kasugai.testing import leftover_process_groups, start_process


def test_a_running_group_is_a_leftover_until_stopped(tmp_path: Path) -> None:
    process = start_process("sleeper", ["sleep", "600"], tmp_path / "sleeper.log")
    try:
        assert process in leftover_process_groups()
    finally:
        process.stop()
    assert process not in leftover_process_groups()
    assert process.popen.returncode == -signal.SIGTERM


def test_stop_kills_a_group_that_ignores_sigterm(tmp_path: Path) -> None:
    # Both the leader and its child ignore SIGTERM (the disposition is inherited).
    script = "trap '' TERM; sleep 600 & echo started; wait"
    process = start_process("stubborn", ["bash", "-c", script], tmp_path / "stubborn.log")
    try:
        deadline = time.monotonic() + 60
        while "started" not in process.log_tail():  # the trap is set only from here on
            assert time.monotonic() < deadline, "the script never started"
            time.sleep(0.05)
    finally:
        process.stop(grace_seconds=1.0)
    assert process.popen.returncode == -signal.SIGKILL
    assert not process.group_alive()
    assert process not in leftover_process_groups()
