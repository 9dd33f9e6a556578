"""The live page's routes over real HTTP: what each serves, escaping, refusals, SSE framing."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest

from kasugai.view.page import Board
from kasugai.view.page.routes import page_json
from view.page_support import dataflow, page_server, request

HOSTILE = '<img src=x onerror="alert(1)">&</script>'


@pytest.fixture
def board() -> Board:
    board = Board()
    board.set_dataflows([dataflow(), dataflow(name=HOSTILE, namespace="evil")])
    return board


def test_the_list_names_every_dataflow(board: Board) -> None:
    with page_server(board) as address:
        status, headers, body = request(address, "/dataflows.json")
    assert status == 200 and headers["content-type"] == "application/json"
    listed = json.loads(body)["dataflows"]
    assert [(d["namespace"], d["name"], d["functions"]) for d in listed] == [
        ("evil", HOSTILE, 3),
        ("ns", "df", 3),
    ]


def test_a_dataflows_json_is_its_chain_with_events_and_rewiring(board: Board) -> None:
    board.events.add("ns", "df", "Warning", "AddressLost", "connection send->plus: lost")
    with page_server(board) as address:
        status, _, body = request(address, "/dataflows/ns/df.json")
    assert status == 200
    data = json.loads(body)
    assert {"namespace", "name", "status", "message", "nodes", "edges", "events", "rewiring"} <= (
        data.keys()
    )
    assert [n["key"] for n in data["nodes"]] == ["send", "plus", "rcv"]
    assert [(e["source"], e["target"], e["published"]) for e in data["edges"]] == [
        ("send", "plus", True),
        ("plus", "rcv", True),
    ]
    assert [(e["type"], e["reason"]) for e in data["events"]] == [("Warning", "AddressLost")]
    assert data["rewiring"] == {"inProgress": False, "since": None, "last": None}


def test_hostile_names_are_escaped_in_the_json_and_found_by_their_encoded_url(
    board: Board,
) -> None:
    encoded = "/dataflows/evil/%3Cimg%20src%3Dx%20onerror%3D%22alert(1)%22%3E%26%3C%2Fscript%3E"
    with page_server(board) as address:
        status, headers, body = request(address, encoded + ".json")
        page_status, page_headers, page = request(address, encoded)
    assert status == 200
    assert b"<" not in body and b">" not in body and b"&" not in body
    assert json.loads(body)["name"] == HOSTILE
    # The page itself is the fixed HTML file: the name is never written into it.
    assert page_status == 200 and HOSTILE.encode() not in page
    for answer in (headers, page_headers):
        assert answer["content-security-policy"].startswith("default-src 'self'")
        assert answer["x-content-type-options"] == "nosniff"


def test_the_page_and_its_assets_come_from_the_package_with_no_inline_script(
    board: Board,
) -> None:
    with page_server(board) as address:
        root = request(address, "/")
        page = request(address, "/dataflows/ns/df")
        script = request(address, "/static/page.js")
        style = request(address, "/static/page.css")
    assert root[0] == page[0] == script[0] == style[0] == 200
    assert root[2] == page[2]
    html = page[2].decode()
    assert '<script src="/static/page.js"' in html and "<script>" not in html
    assert "http" not in html  # no CDN, nothing from another origin
    assert script[1]["content-type"].startswith("text/javascript")
    assert "innerHTML" not in script[2].decode()
    assert style[1]["content-type"].startswith("text/css")


@pytest.mark.parametrize(
    "path",
    [
        "/dataflows/ns/missing",
        "/dataflows/ns/missing.json",
        "/dataflows/ns/missing/events",
        "/dataflows/ns/df/other",
        "/dataflows/ns",
        "/dataflows/ns/df/events/more",
        "/dataflowsx",
        "/static/nothing.js",
        "/static/index.html",
        "/nothing",
    ],
)
def test_unknown_paths_are_404(board: Board, path: str) -> None:
    with page_server(board) as address:
        status, _, body = request(address, path)
    assert status == 404, body
    assert body.endswith(b"\n")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
def test_only_get_is_served(board: Board, method: str) -> None:
    with page_server(board) as address:
        status, headers, _ = request(address, "/dataflows/ns/df.json", method=method)
    assert (status, headers["allow"]) == (405, "GET")


def test_the_probes_still_answer_next_to_the_page(board: Board) -> None:
    with page_server(board) as address:
        assert request(address, "/healthz")[:1] == (200,)


@pytest.mark.parametrize("host", ["evil.example", "localhost.evil.example", ""])
def test_a_host_name_other_than_localhost_is_refused(board: Board, host: str) -> None:
    """DNS rebinding: a page of another site that resolves its name to 127.0.0.1."""
    with page_server(board) as address:
        status, _, _ = request(address, "/dataflows/ns/df.json", host=host)
    assert status == 403


@pytest.mark.parametrize("host", ["localhost:8765", "127.0.0.1:1", "[::1]:80", "10.1.2.3"])
def test_an_ip_address_or_localhost_is_served(board: Board, host: str) -> None:
    with page_server(board) as address:
        assert request(address, "/dataflows/ns/df.json", host=host)[0] == 200


def test_a_public_page_serves_any_host_name(board: Board) -> None:
    with page_server(board, public=True) as address:
        assert request(address, "/dataflows.json", host="kasugai.example")[0] == 200


class _SSE:
    """A raw client of the events stream: reads frames as the server sends them."""

    def __init__(self, address: tuple[str, int], path: str) -> None:
        self.socket = socket.create_connection(address, timeout=10)
        self.socket.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        self.file = self.socket.makefile("rb")
        self.status_line = self.file.readline()
        self.headers: dict[str, str] = {}
        while (line := self.file.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            self.headers[name.lower()] = value.strip()

    def frame(self) -> list[bytes]:
        lines = []
        while (line := self.file.readline()) not in (b"\n", b""):
            lines.append(line.rstrip(b"\n"))
        return lines

    def close(self) -> None:
        self.file.close()
        self.socket.close()


def test_sse_sends_the_json_at_once_then_again_when_the_chain_changes(board: Board) -> None:
    with page_server(board) as address:
        client = _SSE(address, "/dataflows/ns/df/events")
        try:
            assert b" 200 " in client.status_line
            assert client.headers["content-type"].startswith("text/event-stream")
            assert "content-length" not in client.headers
            assert client.frame() == [b"retry: 1000"]
            first = client.frame()
            assert len(first) == 1 and first[0].startswith(b"data: ")
            assert json.loads(first[0][6:]) == board.page("ns", "df")
            board.set_dataflows([dataflow(keys=("send", "rcv")), dataflow(name=HOSTILE)])
            second = client.frame()
            assert [n["key"] for n in json.loads(second[0][6:])["nodes"]] == ["send", "rcv"]
            board.set_dataflows([dataflow(name=HOSTILE)])  # the DataFlow is deleted
            assert client.frame() == [b"event: gone", b"data: {}"]
        finally:
            client.close()


def test_sse_frames_are_one_line_whatever_the_names(board: Board) -> None:
    board.set_dataflows([dataflow(name="a\nb\r\nc", namespace="n\n")])
    frame = page_json(board.page("n\n", "a\nb\r\nc"))
    assert b"\n" not in frame and b"\r" not in frame


def test_live_pages_open_at_once_are_bounded_and_a_closed_one_frees_its_place(
    board: Board,
) -> None:
    with page_server(board, max_streams=2) as address:
        clients = [_SSE(address, "/dataflows/ns/df/events") for _ in range(2)]
        try:
            assert all(b" 200 " in c.status_line for c in clients)
            assert request(address, "/dataflows/ns/df/events")[0] == 503
            clients.pop().close()
            # The server finds the client gone when writing its keep-alive comments.
            deadline = time.monotonic() + 20
            statuses = [request_status(address)]
            while statuses[-1] == 503 and time.monotonic() < deadline:
                time.sleep(0.2)
                statuses.append(request_status(address))
            assert statuses[-1] == 200
        finally:
            for client in clients:
                client.close()


def request_status(address: tuple[str, int]) -> int:
    """Open a stream, take its status, go away at once."""
    connection = http.client.HTTPConnection(*address, timeout=10)
    try:
        connection.request("GET", "/dataflows/ns/df/events")
        return connection.getresponse().status
    finally:
        connection.close()


def test_closing_the_board_ends_every_stream(board: Board) -> None:
    with page_server(board) as address:
        client = _SSE(address, "/dataflows/ns/df/events")
        client.frame(), client.frame()
        ended = threading.Event()

        def read_to_end() -> None:
            while client.file.readline():
                pass
            ended.set()

        reader = threading.Thread(target=read_to_end, daemon=True)
        reader.start()
        board.close()
        assert ended.wait(10)
        client.close()
