"""The controller's Prometheus metrics and its ``/healthz``, ``/readyz`` and ``/metrics`` server.

``/healthz`` fails (503) only while the reconcile loop is dead: it is the liveness probe, and a
restart would not bring an unreachable API server back. ``/readyz`` also fails while a watch is
down (it failed and is waiting to be restarted) or has not listed yet. Both answer with one line
per problem, so ``curl`` shows which watch is down and why. The metrics live in their
own registry (with the process collector, for resident memory), not the global one, so that a
test or a benchmark in the same process can build several controllers.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, ProcessCollector

from kasugai.health_server import ProbeServer, Route, metrics_reply, probe_reply

__all__ = ["HealthServer", "Metrics", "parse_bind_address"]

log = structlog.get_logger("kasugai.controller")

Probe = Callable[[], list[str]]


class Metrics:
    """Every metric of one controller; all names start with ``kasugai_controller_``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)

        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(f"kasugai_controller_{name}", doc, labels, registry=self.registry)

        def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
            return Gauge(f"kasugai_controller_{name}", doc, labels, registry=self.registry)

        self.reconciles = counter("reconciles", "DataFlows compared with the cluster")
        self.planned = counter(
            "planned_actions", "Differences found (written, or logged in dry-run)", ("verb", "kind")
        )
        self.writes = counter(
            "writes", "Successful API writes (objects, statuses, Events)", ("verb", "kind")
        )
        self.write_errors = counter(
            "write_errors", "API writes that failed for good", ("verb", "kind", "code")
        )
        self.conflicts = counter(
            "conflicts", "409 Conflict answers (delete preconditions, Lease updates)"
        )
        self.watch_restarts = counter(
            "watch_restarts", "Watches that failed and were started again", ("watch",)
        )
        self.watch_skipped = counter(
            "watch_events_skipped",
            "Watch events that could not be read (not JSON, or over the limits)",
            ("watch",),
        )
        self.watch_up = gauge("watch_up", "1 while the watch is listed and streaming", ("watch",))
        self.queue_depth = gauge("queue_depth", "Watch events waiting for the reconcile loop")
        self.leader = gauge("leader", "1 while this replica holds the Lease and may write")
        self.lease_renewals = counter("lease_renewals", "Lease writes that kept or took the lead")
        self.events_dropped = counter(
            "events_dropped", "Kubernetes Events not written (queue full, or refused)"
        )


def parse_bind_address(address: str) -> tuple[str, int]:
    """``host:port`` (``:8080`` means every interface, port 0 a free one) -> (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(
            f"--metrics-bind-address {address!r}: expected HOST:PORT, e.g. :8080 or 127.0.0.1:0"
        )
    return host or "0.0.0.0", int(port)


class HealthServer(ProbeServer):
    """Serves the probes and the metrics in a daemon thread."""

    def __init__(self, address: str, metrics: Metrics, healthy: Probe, ready: Probe) -> None:
        host, port = parse_bind_address(address)
        routes: dict[str, Route] = {
            "/healthz": lambda: probe_reply(healthy()),
            "/readyz": lambda: probe_reply(ready()),
            "/metrics": lambda: metrics_reply(metrics.registry),
        }
        super().__init__(host, port, routes, name="health-server")

    def start(self) -> None:
        super().start()
        host, port = self.address
        log.info("serving probes and metrics", address=f"{host}:{port}", port=port)
