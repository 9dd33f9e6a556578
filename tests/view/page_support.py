"""What the live page's tests share: a DataFlow object like a status, and a page server."""

from __future__ import annotations

import http.client
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kasugai.health_server import ProbeServer
from kasugai.view.page import Board, mount_page


def dataflow(
    name: str = "df",
    namespace: str = "ns",
    keys: tuple[str, ...] = ("send", "plus", "rcv"),
    published: bool = True,
    address: str = "",
    rewired: bool = True,
) -> dict[str, Any]:
    return {
        "metadata": {"namespace": namespace, "name": name},
        "status": {
            "status": "Running" if published else "Deploying",
            "message": "",
            "conditions": [
                {"type": "Rewired", "status": "True" if rewired else "False", "reason": "x"}
            ],
            "functions": [
                {"key": k, "pod": f"{name}-{k}", "phase": "Running", "address": address}
                for k in keys
            ],
            "connections": [
                {
                    "from": a,
                    "to": b,
                    "state": "Published" if published else "Rewiring",
                    "published": published,
                    "destination": "127.0.0.9:8080/TCP",
                    "protocol": "TCP",
                }
                for a, b in itertools.pairwise(keys)
            ],
        },
    }


@contextmanager
def page_server(board: Board, **options: Any) -> Iterator[tuple[str, int]]:
    server = ProbeServer("127.0.0.1", 0, {"/healthz": lambda: (200, "text/plain", b"ok\n")}, "t")
    mount_page(server, board, **options)
    server.start()
    try:
        yield server.address
    finally:
        board.close()
        server.stop()


def request(
    address: tuple[str, int], path: str, method: str = "GET", host: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(*address, timeout=10)
    try:
        headers = {"Host": host} if host is not None else {}
        connection.request(method, path, headers=headers)
        reply = connection.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        connection.close()
