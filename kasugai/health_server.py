"""The small HTTP server behind kubelet probes and Prometheus scrapes, for long-running programs.

Each program names its routes (``/healthz``, ``/readyz``, ``/metrics``): a probe answers 200
``ok``, or 503 with one line per problem so that ``curl`` shows what is wrong. It serves in daemon
threads, so a slow scrape never holds up the program's own work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

__all__ = ["ProbeServer", "Reply", "Route", "metrics_reply", "probe_reply"]

log = structlog.get_logger(__name__)

Reply = tuple[int, str, bytes]  # status, Content-Type, body
Route = Callable[[], Reply]
_TEXT = "text/plain; charset=utf-8"


def probe_reply(problems: list[str]) -> Reply:
    """200 ``ok``, or 503 and one line per problem."""
    body = ("\n".join(problems) if problems else "ok") + "\n"
    return (503 if problems else 200), _TEXT, body.encode()


def metrics_reply(registry: CollectorRegistry) -> Reply:
    return 200, CONTENT_TYPE_LATEST, generate_latest(registry)


class _Handler(BaseHTTPRequestHandler):
    routes: Mapping[str, Route] = {}

    def do_GET(self) -> None:
        route = self.routes.get(self.path.partition("?")[0])
        if route is None:
            *others, last = self.routes
            hint = f"try {', '.join(others)} or {last}" if others else f"try {last}"
            status, content_type, body = 404, _TEXT, f"{hint}\n".encode()
        else:
            status, content_type, body = route()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Probes every few seconds would drown the log; errors still reach ``log_error``."""

    def log_error(self, format: str, *args: object) -> None:
        log.warning("health server error", detail=format % args)


class ProbeServer:
    """Serves ``routes`` (at least one) on ``host:port`` (port 0: a free one) once started."""

    def __init__(self, host: str, port: int, routes: Mapping[str, Route], name: str) -> None:
        handler = type("Handler", (_Handler,), {"routes": dict(routes)})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
