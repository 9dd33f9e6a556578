"""Chains of real calcapp processes on loopback: for tests, benchmarks and trying the function out.

Every function is a real ``kasugai-calc -server`` process group with its own loopback address
(127.a.b.c, as the local runtime gives each Pod, so all keep port 8080), its own config directory
and its own JSON log file. Config files are written the way the sidecar writes them: the
template's output, replaced atomically, then SIGHUP. Nothing here talks gRPC; callers bring their
own client.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs

from kasugai.atomic_files import write_atomically
from kasugai.json_logs import read_json_log as read_events
from kasugai.testing.polling import wait_until
from kasugai_functions.calc.arithmetic import Operator
from kasugai_functions.calc.config import CONFIG_FILE

PORT = 8080
SAMPLE_CHAIN = (  # the functions of the OpenKasugai calcapp sample, in data-flow order
    Operator.PLUS,
    Operator.MINUS,
    Operator.MULTIPLY,
    Operator.DIVIDE,
    Operator.AVERAGE_RESULTS,
    Operator.RECEIVER,
)
READY_EVENT = "start gRPC server"
DEFAULT_TIMEOUT_SECONDS = 60.0  # generous: tests run on loaded two-core machines
Event = dict[str, Any]


def rendered_config(host: str, port: int) -> str:
    """config.yaml as the sidecar renders it from the calcapp template for one address."""
    return f'next:\n  host: "{host}"\n  port: {port}\n'


@attrs.define
class CalcProcess:
    """One running function: its address, config directory, log and process group."""

    name: str
    operator: Operator
    host: str
    directory: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    port: int = PORT

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def events(self, name: str | None = None) -> list[Event]:
        """Its log events so far, optionally only those called ``name``."""
        events = read_events(self.log_path)
        return [e for e in events if name is None or e.get("event") == name]

    def wait_for_event(
        self,
        name: str,
        where: Callable[[Event], bool] = lambda _: True,
        count: int = 1,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> list[Event]:
        """Wait until it has logged ``count`` events called ``name`` that match ``where``."""

        def matching() -> list[Event]:
            return [e for e in self.events(name) if where(e)]

        def enough() -> bool:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise RuntimeError(f"{self.name} exited with {code}: {self.tail()}")
            return len(matching()) >= count

        wait_until(enough, f"{count} {name!r} event(s) from {self.name}", timeout)
        return matching()

    def point_to(self, host: str, port: int = PORT) -> None:
        """Write its config.yaml for next hop ``host:port`` and send SIGHUP, as the sidecar does."""
        write_atomically(self.directory / CONFIG_FILE, rendered_config(host, port))
        self.reload()

    def reload(self) -> None:
        self.process.send_signal(signal.SIGHUP)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM its process group, then SIGKILL if it lingers; waits for it either way."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def calc_executable() -> Path:
    """``kasugai-calc`` of the running environment (next to its Python)."""
    path = Path(sys.executable).parent / "kasugai-calc"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: install the project (pip install -e .)")
    return path


def run_client(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run ``kasugai-calc ARGS...`` as a client process (JSON logs on stderr) to completion."""
    env = {**os.environ, "KASUGAI_LOG_FORMAT": "json"}
    env.pop("KASUGAI_CONFIG_DIR", None)
    command = [str(calc_executable()), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


class LocalCalc:
    """Starts calcapp functions on a loopback subnet of its own; stops them all on close."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.executable = calc_executable()
        # A random 127.a.b.0/24 keeps concurrent test runs (and the local runtime) apart.
        self.subnet = f"127.{random.randint(100, 199)}.{random.randint(0, 255)}"
        self.functions: list[CalcProcess] = []

    def __enter__(self) -> LocalCalc:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def next_host(self) -> str:
        return f"{self.subnet}.{len(self.functions) + 1}"

    def start(
        self,
        name: str,
        operator: Operator,
        next_host: str | None = None,
        program: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> CalcProcess:
        """Start one function (with config.yaml for ``next_host`` if given); waits until ready.

        ``program`` replaces ``kasugai-calc`` (e.g. the image's launcher), ``env`` the environment.
        """
        host = self.next_host()
        directory = self.workdir / name
        directory.mkdir(parents=True)
        if next_host is not None:
            write_atomically(directory / CONFIG_FILE, rendered_config(next_host, PORT))
        log_path = self.workdir / f"{name}.log"
        command = [*(program or [str(self.executable)]), "-server", "-port", str(PORT)]
        command += ["-operator", operator.value, "--config-dir", str(directory)]
        env = {**(os.environ if env is None else env)}
        env.update(KASUGAI_POD_IP=host, KASUGAI_LOG_FORMAT="json")
        env.pop("KASUGAI_CONFIG_DIR", None)
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                command, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
            )
        function = CalcProcess(name, operator, host, directory, log_path, process)
        self.functions.append(function)
        function.wait_for_event(READY_EVENT)
        return function

    def start_chain(self, operators: Sequence[Operator]) -> list[CalcProcess]:
        """Start a chain in which each function forwards to the next; the last should not."""
        started: list[CalcProcess] = []
        next_host: str | None = None
        for index in reversed(range(len(operators))):
            operator = operators[index]
            function = self.start(f"{index}-{operator.value}", operator, next_host)
            started.insert(0, function)
            next_host = function.host
        return started

    def send_directory(self, first: CalcProcess) -> Path:
        """A config directory for a client (the "send" Pod), pointing at ``first``."""
        directory = self.workdir / f"send-to-{first.name}"
        directory.mkdir(parents=True, exist_ok=True)
        write_atomically(directory / CONFIG_FILE, rendered_config(first.host, first.port))
        return directory

    def close(self) -> None:
        for function in self.functions:
            function.stop()


def iter_results(events: Sequence[Event]) -> Iterator[tuple[list[float], list[tuple[str, float]]]]:
    """``(inputs, [(operator, value), ...])`` of each receiver ``result`` event."""
    for event in events:
        if event.get("event") == "result":
            yield event["inputs"], [(r["operator"], r["value"]) for r in event["results"]]
