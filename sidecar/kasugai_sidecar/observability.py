"""Prometheus metrics and the ``/healthz`` + ``/metrics`` endpoint of the sidecar.

``/healthz`` fails (503) when a watch is dead (its task or thread failed and is waiting to be
restarted) or stale (it has not heard from its source for longer than its limit: watches beat on
every event and on every quiet timeout, so silence means a stuck connection). The endpoint is
off unless ``--metrics-port`` is given; it binds ``--metrics-host``, by default the Pod's address
(``KASUGAI_POD_IP``, else 0.0.0.0 so that kubelet probes reach it in a Pod).
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import attrs
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, generate_latest

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
SIGNALS_SENT = Counter("kasugai_sidecar_signals_sent", "SIGHUPs delivered to the function")


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


class _Handler(BaseHTTPRequestHandler):
    watches: tuple[WatchHealth, ...] = ()

    def do_GET(self) -> None:
        if self.path == "/metrics":
            self._reply(200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY))
        elif self.path == "/healthz":
            problems = [p for w in self.watches if (p := w.problem())]
            body = ("\n".join(problems) if problems else "ok") + "\n"
            self._reply(503 if problems else 200, "text/plain; charset=utf-8", body.encode())
        else:
            self._reply(404, "text/plain; charset=utf-8", b"try /healthz or /metrics\n")

    def _reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # probes every few seconds would drown the sidecar's own log


def serve_observability(
    host: str, port: int, watches: tuple[WatchHealth, ...]
) -> ThreadingHTTPServer:
    """Start the endpoint in a daemon thread; the caller shuts the returned server down."""
    handler = type("Handler", (_Handler,), {"watches": watches})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="observability", daemon=True).start()
    return server
