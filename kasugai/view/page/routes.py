"""The live page's routes on a ``ProbeServer``: read-only, GET only, from the package's files.

``/`` and ``/dataflows/<ns>/<name>`` serve the one HTML file (its script draws the list or the
chain), ``/dataflows.json`` the list, ``/dataflows/<ns>/<name>.json`` one DataFlow's data and
``/dataflows/<ns>/<name>/events`` the same data as server-sent events, sent again whenever it
changes. Names come from the cluster or from files and are treated as hostile: the JSON escapes
``<``, ``>`` and ``&``, the script writes them with ``textContent`` only, and every answer carries
a Content-Security-Policy of ``default-src 'self'`` (no inline script, no other origin). Unless
the page is public, a request must name the server by an IP address or ``localhost`` (a page on
another site cannot then reach it through DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from collections.abc import Iterator
from importlib import resources
from typing import Any
from urllib.parse import unquote

from kasugai.health_server import Answer, ProbeServer, Request
from kasugai.view.page.board import Board

__all__ = ["SECURITY_HEADERS", "mount_page", "page_json"]

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_STATIC = {
    "index.html": "text/html; charset=utf-8",
    "page.js": "text/javascript; charset=utf-8",
    "page.css": "text/css; charset=utf-8",
}
_TEXT = "text/plain; charset=utf-8"
_JSON = "application/json"
MAX_STREAMS = 16  # live pages open at once; each holds a thread
KEEPALIVE_SECONDS = 2.0  # a comment now and then finds clients that went away (2 writes)
CHECK_SECONDS = 1.0  # Events come from elsewhere: look again at least this often


def page_json(data: Any) -> bytes:
    """Compact JSON, safe even if a browser were to read it as HTML."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.encode()


def _answer(status: int, content_type: str, body: bytes) -> Answer:
    return Answer(status, content_type, body, SECURITY_HEADERS)


def _text(status: int, message: str) -> Answer:
    return _answer(status, _TEXT, f"{message}\n".encode())


def _local_host(host: str) -> bool:
    """``Host`` names an IP address or localhost (with or without a port)."""
    name = host.strip()
    if name.startswith("["):
        name = name[1 : name.find("]")] if "]" in name else ""
    else:
        name = name.rpartition(":")[0] if name.count(":") == 1 else name
    if name.lower() == "localhost":
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class _Events:
    """One client's stream: the page's JSON now, then each time it changes."""

    def __init__(self, board: Board, namespace: str, name: str, slots: threading.Semaphore):
        self._board = board
        self._key = (namespace, name)
        self._slots = slots
        self._open = True

    def __iter__(self) -> Iterator[bytes]:
        yield b"retry: 1000\n\n"
        sent: bytes | None = None
        quiet_since = time.monotonic()
        while self._open and not self._board.closed:
            data = self._board.page(*self._key)
            if data is None:
                yield b"event: gone\ndata: {}\n\n"
                return
            text = page_json(data)
            if text != sent:
                sent, quiet_since = text, time.monotonic()
                yield b"data: " + text + b"\n\n"
            elif time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
                quiet_since = time.monotonic()
                yield b": keep-alive\n\n"
            self._board.wait(CHECK_SECONDS)

    def close(self) -> None:
        if self._open:
            self._open = False
            self._slots.release()


class _Pages:
    def __init__(self, board: Board, public: bool, max_streams: int) -> None:
        self.board = board
        self.public = public
        self.max_streams = max_streams
        self.slots = threading.Semaphore(max_streams)
        folder = resources.files("kasugai.view.page") / "static"
        self.static = {name: folder.joinpath(name).read_bytes() for name in _STATIC}

    def _refused(self, request: Request) -> Answer | None:
        if self.public or _local_host(request.headers.get("host", "")):
            return None
        return _text(403, "name this server by its IP address or localhost in the URL")

    def root(self, request: Request) -> Answer:
        if request.path == "/favicon.ico":  # browsers ask for one; there is none
            return _answer(204, _TEXT, b"")
        if request.path != "/":
            return _text(404, "no such page; the DataFlows are listed at /")
        return self._refused(request) or self._file("index.html")

    def assets(self, request: Request) -> Answer:
        name = request.path.removeprefix("/static/")
        if name not in _STATIC or name == "index.html":
            return _text(404, "no such file")
        return self._refused(request) or self._file(name)

    def dataflows(self, request: Request) -> Answer:
        refused = self._refused(request)
        if refused is not None:
            return refused
        if request.path == "/dataflows.json":
            return _answer(200, _JSON, page_json(self.board.listing()))
        parts = [unquote(p) for p in request.path.removeprefix("/dataflows/").split("/")]
        if not request.path.startswith("/dataflows/") or not all(parts) or len(parts) > 3:
            return _text(404, "no such page; try /dataflows/<namespace>/<name>")
        if len(parts) == 3:
            if parts[2] != "events":
                return _text(404, "no such page; try /dataflows/<namespace>/<name>/events")
            return self._events(parts[0], parts[1])
        if len(parts) != 2:
            return _text(404, "no such page; try /dataflows/<namespace>/<name>")
        namespace, name = parts
        if name.endswith(".json") and not self.board.has(namespace, name):
            data = self.board.page(namespace, name.removesuffix(".json"))
            if data is None:
                return _text(404, "no such DataFlow")
            return _answer(200, _JSON, page_json(data))
        if not self.board.has(namespace, name):
            return _text(404, "no such DataFlow")
        return self._file("index.html")

    def _events(self, namespace: str, name: str) -> Answer:
        if not self.board.has(namespace, name):
            return _text(404, "no such DataFlow")
        if not self.slots.acquire(blocking=False):
            return _text(503, f"{self.max_streams} live pages are open already; close one")
        headers = {**SECURITY_HEADERS, "X-Accel-Buffering": "no"}
        stream = _Events(self.board, namespace, name, self.slots)
        return Answer(200, "text/event-stream; charset=utf-8", headers=headers, stream=stream)

    def _file(self, name: str) -> Answer:
        return _answer(200, _STATIC[name], self.static[name])


def mount_page(
    server: ProbeServer, board: Board, *, public: bool = False, max_streams: int = MAX_STREAMS
) -> None:
    """Serve the live page from ``server`` (its exact routes, e.g. the probes, still come first)."""
    pages = _Pages(board, public, max_streams)
    server.mount("/dataflows", pages.dataflows)
    server.mount("/static/", pages.assets)
    server.mount("/", pages.root)
