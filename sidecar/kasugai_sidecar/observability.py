"""Prometheus metrics and the ``/healthz`` + ``/metrics`` endpoint of the sidecar.

``/healthz`` fails (503) when a watch is dead (its task or thread failed and is waiting to be
restarted) or stale (it has not heard from its source for longer than its limit: watches beat on
every event and on every quiet timeout, so silence means a stuck connection). The endpoint is
off unless ``--metrics-port`` is given; it binds ``--metrics-host``, by default the Pod's address
(``KASUGAI_POD_IP``, else 0.0.0.0 so that kubelet probes reach it in a Pod).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import attrs
from prometheus_client import REGISTRY, Counter, Gauge
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from kasugai.health_server import ProbeServer, Reply, metrics_reply, probe_reply

CONFIG_UPDATES = Counter(
    "kasugai_sidecar_config_updates", "Connection configs received", ["outcome"]
)
RELOADS = Counter("kasugai_sidecar_reloads", "Renders that changed at least one output file")
RENDER_ERRORS = Counter(
    "kasugai_sidecar_render_errors", "Rejected configs and failed templates", ["kind"]
)
WATCH_RESTARTS = Counter(
    "kasugai_sidecar_watch_restarts", "Watches restarted after a failure", ["watch"]
)
RENDERS = Counter("kasugai_sidecar_renders", "Render passes over the templates (with a config)")
RENDER_FAILURES = Counter(
    "kasugai_sidecar_render_failures", "Templates that failed to render (their output is kept)"
)
SIGNALS = Counter("kasugai_sidecar_signals", "SIGHUPs delivered to the function")
LAST_RELOAD = Gauge(
    "kasugai_sidecar_last_reload_timestamp_seconds",
    "Unix time of the last render whose SIGHUP reached the function (0: none yet)",
)
LOADED_REPORTS = Counter(
    "kasugai_sidecar_loaded_reports",
    "Patches of the Pod's ConnectionLoaded condition, in a cluster",
    ["outcome"],
)


@attrs.define
class WatchHealth:
    """Liveness of one watch: alive, and heard from within ``stale_after`` seconds."""

    name: str
    stale_after: float
    alive: bool = False
    last_beat: float = attrs.field(factory=time.monotonic)
    reason: str = "not started"

    def beat(self) -> None:
        self.alive = True
        self.last_beat = time.monotonic()
        self.reason = ""

    def down(self, reason: str) -> None:
        self.alive = False
        self.reason = reason

    def problem(self) -> str | None:
        if not self.alive:
            return f"{self.name}: {self.reason}"
        silent = time.monotonic() - self.last_beat
        if silent > self.stale_after:
            return f"{self.name}: stale, nothing heard for {silent:.0f}s"
        return None


def serve_observability(host: str, port: int, watches: tuple[WatchHealth, ...]) -> ProbeServer:
    """Start the endpoint in a daemon thread; the caller stops the returned server."""

    def healthz() -> Reply:
        return probe_reply([p for w in watches if (p := w.problem())])

    routes = {"/healthz": healthz, "/metrics": lambda: metrics_reply(REGISTRY)}
    server = ProbeServer(host, port, routes, name="observability")
    server.start()
    return server


class _OldName(Collector):
    """A counter under the name it had before (``signals_sent``), for dashboards that use it."""

    def __init__(self, name: str, counter: Counter) -> None:
        self._name = name
        self._counter = counter

    def collect(self) -> Iterator[CounterMetricFamily]:
        for family in self._counter.collect():
            total = next(s.value for s in family.samples if s.name.endswith("_total"))
            yield CounterMetricFamily(self._name, f"{family.documentation} (old name)", total)


REGISTRY.register(_OldName("kasugai_sidecar_signals_sent", SIGNALS))
