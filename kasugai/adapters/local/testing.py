"""Testing tools for the local runtime: ``kasugai up`` as a real process, and what it left.

``LocalRun`` starts ``kasugai up DIR`` in its own session (as a user would, not in-process, so
tests see real signals, real exit statuses and real leftovers), waits until it is up, and offers
the questions tests and benchmarks ask: the snapshot, a Pod by function key, a container's JSON
log events, ``kasugai exec``, ``kasugai down``, and the processes still carrying the run's
marker. Closing it always stops everything. Free of pytest, like ``kasugai.testing``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from kasugai.adapters.local.layout import state_dir
from kasugai.adapters.local.leftovers import find_leftovers, runtime_id_of
from kasugai.adapters.local.processes import LeftOver
from kasugai.adapters.local.snapshot import read_snapshot
from kasugai.json_logs import read_json_log as read_events
from kasugai.testing import polling

__all__ = ["KASUGAI", "LocalRun", "StartFailed", "read_events", "wait_until"]

KASUGAI = (sys.executable, "-m", "kasugai.cli")
DEFAULT_TIMEOUT = 180.0  # generous: a loaded two-core machine starts 14 Python programs slowly
T = TypeVar("T")


class StartFailed(Exception):
    """``kasugai up`` exited instead of coming up; the message holds its output."""

    def __init__(self, returncode: int, output: str) -> None:
        super().__init__(f"kasugai up exited with {returncode}:\n{output}")
        self.returncode = returncode
        self.output = output


def wait_until(check: Callable[[], T], what: str, timeout: float = DEFAULT_TIMEOUT) -> T:
    """``kasugai.testing.wait_until`` with the patience a whole local run needs."""
    return polling.wait_until(check, what, timeout)


class LocalRun:
    def __init__(
        self,
        source: Path,
        state: Path,
        output: Path,
        *,
        log_format: str | None = "json",
        up_args: Sequence[str] = (),
    ) -> None:
        """``log_format``: ``KASUGAI_LOG_FORMAT`` for ``kasugai up`` (None: its default);
        ``up_args``: more flags for ``kasugai up`` (``--view 127.0.0.1:0``)."""
        self.up_args = tuple(up_args)
        self.source = source
        self.state = state_dir(str(state))
        self.output = output
        self.log_format = log_format
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LocalRun:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def kasugai(
        self, *args: str, timeout: float = DEFAULT_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """Run ``kasugai ARGS... --state-dir <this run's>`` to completion."""
        command = [*KASUGAI, *args]
        if "--" in command:
            cut = command.index("--")
            command[cut:cut] = ["--state-dir", str(self.state.root)]
        else:
            command += ["--state-dir", str(self.state.root)]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)

    def start(self, timeout: float = DEFAULT_TIMEOUT) -> LocalRun:
        """Start ``kasugai up`` and wait until it is up; ``StartFailed`` if it exits instead."""
        self.output.parent.mkdir(parents=True, exist_ok=True)
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    *KASUGAI,
                    "up",
                    str(self.source),
                    "--state-dir",
                    str(self.state.root),
                    *self.up_args,
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=self._env(),
            )
        process = self.process

        def up() -> bool:
            if process.poll() is not None:
                raise StartFailed(process.returncode, self.output.read_text(errors="replace"))
            supervisor = self.snapshot().get("supervisor") or {}
            return supervisor.get("pid") == process.pid and supervisor.get("phase") == "Running"

        wait_until(up, "kasugai up to be up", timeout)
        return self

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "KASUGAI_LOG_FORMAT"}
        return env if self.log_format is None else {**env, "KASUGAI_LOG_FORMAT": self.log_format}

    def snapshot(self) -> dict[str, Any]:
        return read_snapshot(self.state) or {}

    def pods(self) -> dict[str, dict[str, Any]]:
        """Running Pods by function key."""
        return {p["function"]: p for p in self.snapshot().get("pods", [])}

    def pod(self, function: str) -> dict[str, Any]:
        return self.pods()[function]

    def pids(self, functions: Sequence[str]) -> dict[str, list[int | None]]:
        pods = self.pods()
        return {f: [c.get("pid") for c in pods[f]["containers"]] for f in functions}

    def events(self, function: str, container: int = 0) -> list[dict[str, Any]]:
        pod = self.pods().get(function)
        if pod is None or len(pod["containers"]) <= container:
            return []
        return read_events(pod["containers"][container]["log"])

    def dataflow_status(self, name: str) -> dict[str, Any]:
        for dataflow in self.snapshot().get("dataflows", []):
            if dataflow["name"] == name:
                return dict(dataflow["status"])
        return {}

    def exec(self, pod: str, *argv: str) -> subprocess.CompletedProcess[str]:
        return self.kasugai("exec", pod, "--", *argv)

    def leftovers(self) -> list[LeftOver]:
        return find_leftovers(runtime_id_of(self.snapshot()))

    def down(self) -> subprocess.CompletedProcess[str]:
        result = self.kasugai("down")
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=DEFAULT_TIMEOUT)
        return result

    def close(self) -> None:
        """Stop everything: ``kasugai down``, then the ``up`` process group if it lingers."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.down()
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        for process in self.leftovers():
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
