"""Run ``kasugai controller`` as a real process against a test cluster, and look inside it.

``start_controller`` starts it in its own process group (``kasugai.testing.start_process``)
with JSON logs and the probes on a free loopback port; the ``ControllerProcess`` reads the
port from the log, scrapes ``/metrics`` (e.g. to count writes), calls the probes, and reads
the structured log. Stop it with ``.process.stop()`` (SIGTERM, as Kubernetes does).
"""

from __future__ import annotations

import http.client
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs
from prometheus_client.parser import text_string_to_metric_families

from kasugai.json_logs import read_json_log
from kasugai.testing.polling import wait_until
from kasugai.testing.processes import ManagedProcess, start_process

__all__ = ["ControllerProcess", "start_controller", "wait_for"]

KASUGAI = Path(sys.executable).with_name("kasugai")
T = TypeVar("T")


def wait_for(probe: Callable[[], T], what: str, timeout: float = 90.0, every: float = 0.1) -> T:
    """``wait_until`` with a cluster's patience; asks the apiserver ten times a second at most."""
    return wait_until(probe, what, timeout, every)


@attrs.define
class ControllerProcess:
    process: ManagedProcess
    _port: int = 0

    def log(self) -> list[dict[str, Any]]:
        """The structured log so far, one dict per JSON line."""
        return read_json_log(self.process.log_path)

    def logged(self, event: str) -> list[dict[str, Any]]:
        return [entry for entry in self.log() if entry.get("event") == event]

    @property
    def port(self) -> int:
        """The probes' port, from the log line that announces it (waits for it)."""
        if not self._port:
            self._port = self._announced("serving probes and metrics", "its probes")
        return self._port

    @property
    def view_port(self) -> int:
        """The live page's port, from the log line that announces it (waits for it)."""
        return self._announced("serving the live page", "its live page")

    def _announced(self, event: str, what: str) -> int:
        found = wait_for(
            lambda: self.logged(event) or self._died(), f"{self.process.name} to serve {what}"
        )
        return int(found[0]["port"])

    def _died(self) -> list[dict[str, Any]]:
        if self.process.exited():
            raise AssertionError(
                f"{self.process.name} exited with {self.process.popen.returncode}:\n"
                f"{self.process.log_tail()}"
            )
        return []

    def get(self, path: str) -> tuple[int, str]:
        """GET a probe or /metrics: (status, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read().decode()
        finally:
            conn.close()

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample: (name, sorted labels) -> value."""
        _, text = self.get("/metrics")
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def total(self, name: str, **labels: str) -> float:
        """The sum of a metric's samples whose labels include ``labels``."""
        return sum(
            value
            for (sample, found), value in self.metrics().items()
            if sample == name and set(labels.items()) <= set(found)
        )

    def writes(self, **labels: str) -> float:
        return self.total("kasugai_controller_writes_total", **labels)

    def ready(self) -> bool:
        return self.get("/readyz")[0] == 200

    def leading(self) -> bool:
        return self.total("kasugai_controller_leader") == 1


def start_controller(
    kubeconfig: Path,
    workdir: Path,
    *args: str,
    name: str = "controller",
    env: Mapping[str, str] | None = None,
) -> ControllerProcess:
    """``kasugai controller --kubeconfig K --metrics-bind-address 127.0.0.1:0
    --view-bind-address 127.0.0.1:0 ARGS`` (free ports: tests run several controllers)."""
    full_env = {**os.environ, "KASUGAI_LOG_FORMAT": "json", **(env or {})}
    full_env.pop("KUBECONFIG", None)
    argv: Sequence[str] = [
        str(KASUGAI),
        "controller",
        "--kubeconfig",
        str(kubeconfig),
        "--metrics-bind-address",
        "127.0.0.1:0",
        "--view-bind-address",
        "127.0.0.1:0",
        *args,
    ]
    return ControllerProcess(start_process(name, argv, workdir / f"{name}.log", env=full_env))
