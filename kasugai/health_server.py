"""The small HTTP server behind kubelet probes and Prometheus scrapes, for long-running programs.

Each program names its routes (``/healthz``, ``/readyz``, ``/metrics``): a probe answers 200
``ok``, or 503 with one line per problem so that ``curl`` shows what is wrong. It serves in daemon
threads, so a slow scrape never holds up the program's own work. A program may also ``mount``
a route on a path prefix (the live page's ``/dataflows/...``): that route sees the request and
may answer with headers of its own, or with a stream (server-sent events) written piece by
piece until it ends or the client goes. Only GET is served; other methods get 405.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import attrs
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

__all__ = [
    "Answer",
    "PrefixRoute",
    "ProbeServer",
    "Reply",
    "Request",
    "Route",
    "metrics_reply",
    "probe_reply",
]

log = structlog.get_logger(__name__)

Reply = tuple[int, str, bytes]  # status, Content-Type, body
Route = Callable[[], Reply]
_TEXT = "text/plain; charset=utf-8"
_MAX_PATH = 2048  # longer request targets are refused before any route sees them
_SOCKET_TIMEOUT_S = 15.0  # a client that neither sends its request nor reads its answer


@attrs.frozen
class Request:
    path: str  # without the query
    query: str
    headers: Mapping[str, str]  # lower-case names


@attrs.frozen
class Answer:
    """A reply with headers of its own; with ``stream``, its pieces follow the headers."""

    status: int
    content_type: str
    body: bytes = b""
    headers: Mapping[str, str] = attrs.field(factory=dict)
    stream: Iterable[bytes] | None = None


PrefixRoute = Callable[[Request], Reply | Answer]


def probe_reply(problems: list[str]) -> Reply:
    """200 ``ok``, or 503 and one line per problem."""
    body = ("\n".join(problems) if problems else "ok") + "\n"
    return (503 if problems else 200), _TEXT, body.encode()


def metrics_reply(registry: CollectorRegistry) -> Reply:
    return 200, CONTENT_TYPE_LATEST, generate_latest(registry)


class _Handler(BaseHTTPRequestHandler):
    routes: Mapping[str, Route] = {}
    prefixes: dict[str, PrefixRoute] = {}
    timeout = _SOCKET_TIMEOUT_S

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if len(self.path) > _MAX_PATH:
            self._send(Answer(414, _TEXT, b"request target too long\n"))
            return
        route = self.routes.get(path)
        if route is not None:
            self._send(route())
            return
        # The longest prefix wins: "/" may list what "/dataflows/" serves.
        for prefix in sorted(self.prefixes, key=len, reverse=True):
            if path.startswith(prefix):
                headers = {k.lower(): v for k, v in self.headers.items()}
                self._send(self.prefixes[prefix](Request(path, query, headers)))
                return
        *others, last = [*self.routes, *self.prefixes]
        hint = f"try {', '.join(others)} or {last}" if others else f"try {last}"
        self._send(Answer(404, _TEXT, f"{hint}\n".encode()))

    def _refuse(self) -> None:
        """Everything here is read-only: any other method is refused (its body is not read)."""
        self.close_connection = True
        self._send(Answer(405, _TEXT, b"only GET is served here\n", {"Allow": "GET"}))

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse

    def _send(self, reply: Reply | Answer) -> None:
        answer = reply if isinstance(reply, Answer) else Answer(*reply)
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if answer.stream is None:
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.body)
            return
        self.close_connection = True
        self._write_stream(answer.stream)

    def _write_stream(self, stream: Iterable[bytes]) -> None:
        """Headers end, then each piece as it comes; the stream is closed however this ends."""
        iterator = iter(stream)
        try:
            self.end_headers()
            for piece in iterator:
                self.wfile.write(piece)
                self.wfile.flush()
        except OSError:  # the client went away (or stopped reading): end its stream
            log.debug("stream ended by the client", path=self.path[:200])
        finally:
            for part in (iterator, stream):
                close = getattr(part, "close", None)
                if close is not None:
                    close()

    def log_message(self, format: str, *args: object) -> None:
        """Probes every few seconds would drown the log; errors still reach ``log_error``."""

    def log_error(self, format: str, *args: object) -> None:
        log.warning("health server error", detail=format % args)


class ProbeServer:
    """Serves ``routes`` (at least one) on ``host:port`` (port 0: a free one) once started."""

    def __init__(self, host: str, port: int, routes: Mapping[str, Route], name: str) -> None:
        self._prefixes: dict[str, PrefixRoute] = {}
        handler = type("Handler", (_Handler,), {"routes": dict(routes), "prefixes": self._prefixes})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    def mount(self, prefix: str, route: PrefixRoute) -> None:
        """Serve every path starting with ``prefix`` (not one of the exact routes) by ``route``."""
        self._prefixes[prefix] = route

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() waits for a serve_forever that never ran
            self._server.shutdown()
        self._server.server_close()
