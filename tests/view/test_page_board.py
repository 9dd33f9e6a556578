"""What the page shows: rewiring seen from statuses, bounded Events, figures scraped over real
HTTP from a metrics endpoint on a 127.x address of the test's own, and the ``--view`` flag."""

from __future__ import annotations

import contextlib
import json
import random
import socket
import subprocess
import sys

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, Info

from kasugai.health_server import ProbeServer, metrics_reply
from kasugai.view.figures import METRICS_PORT
from kasugai.view.page import Board, FigureSampler, RecentEvents
from kasugai.view.page.board import MAX_DATAFLOWS
from kasugai.view.page.local import ViewAddressError, parse_view, snapshot_dataflows
from view.page_support import dataflow, page_server, request


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_rewiring_is_timed_from_the_first_unpublished_status_to_all_published() -> None:
    clock = Clock()
    board = Board(clock=clock, wall_clock=clock)
    board.set_dataflows([dataflow(published=False)])  # deploying: not a rewiring
    board.set_dataflows([dataflow()])
    assert board.page("ns", "df")["rewiring"]["last"] is None  # type: ignore[index]
    clock.now += 5
    board.set_dataflows([dataflow(keys=("send", "rcv"), published=False, rewired=False)])
    rewiring = board.page("ns", "df")["rewiring"]  # type: ignore[index]
    assert rewiring["inProgress"] and rewiring["since"] == "1970-01-01T00:16:45.000Z"
    clock.now += 0.25
    board.set_dataflows([dataflow(keys=("send", "rcv"))])
    rewiring = board.page("ns", "df")["rewiring"]  # type: ignore[index]
    assert not rewiring["inProgress"]
    assert rewiring["last"]["from"] == ["send", "plus", "rcv"]
    assert rewiring["last"]["to"] == ["send", "rcv"]
    assert rewiring["last"]["seconds"] == 0.25


def test_a_chain_changed_between_two_updates_has_a_rewiring_of_unknown_duration() -> None:
    board = Board()
    board.set_dataflows([dataflow()])
    board.set_dataflows([dataflow(keys=("send", "rcv"))])
    last = board.page("ns", "df")["rewiring"]["last"]  # type: ignore[index]
    assert (last["to"], last["seconds"]) == (["send", "rcv"], None)


def test_a_rewired_condition_false_alone_starts_a_rewiring() -> None:
    board = Board()
    board.set_dataflows([dataflow()])
    board.set_dataflows([dataflow(rewired=False)])
    assert board.page("ns", "df")["rewiring"]["inProgress"]  # type: ignore[index]


def test_the_controller_side_observes_and_forgets_one_dataflow_at_a_time() -> None:
    board = Board()
    board.observe(dataflow(name="a"))
    board.observe(dataflow(name="b"))
    board.forget("ns", "a")
    assert [d["name"] for d in board.listing()["dataflows"]] == ["b"]


def test_objects_without_a_usable_name_are_left_out() -> None:
    board = Board()
    board.set_dataflows(
        [{"metadata": "x"}, {"metadata": {"name": 3}}, {}, {"metadata": {"namespace": "n"}}]
    )
    board.observe({"metadata": {"namespace": "n", "name": "a\x00b"}})
    assert board.listing()["dataflows"] == []


def test_the_number_of_dataflows_is_bounded_and_the_rest_is_counted() -> None:
    board = Board()
    board.set_dataflows([dataflow(name=f"d{i}", keys=()) for i in range(MAX_DATAFLOWS + 5)])
    listing = board.listing()
    assert (len(listing["dataflows"]), listing["leftOut"]) == (MAX_DATAFLOWS, 5)


def test_recent_events_are_bounded_per_dataflow_and_in_dataflows_newest_first() -> None:
    events = RecentEvents(per_dataflow=3, dataflows=2)
    for i in range(5):
        events.add("ns", "a", "Normal", f"r{i}", "m" * 5000)
    events.add("ns", "b", "Oops", "r", "m")
    events.add("ns", "c", "Warning", "r", "m")
    assert [e["reason"] for e in events.of("ns", "a")] == []  # the least recent DataFlow went
    assert events.of("ns", "b")[0]["type"] == "Normal"  # only Normal or Warning
    events.add("ns", "c", "Normal", "again", "m")
    assert [e["reason"] for e in events.of("ns", "c")] == ["again", "r"]
    many = RecentEvents(per_dataflow=3)
    for i in range(5):
        many.add("ns", "a", "Normal", f"r{i}", "m" * 5000)
    assert [e["reason"] for e in many.of("ns", "a")] == ["r4", "r3", "r2"]
    assert len(many.of("ns", "a")[0]["message"]) == 1024


def _metrics_server() -> tuple[ProbeServer, Counter, str]:
    """A function's metrics on port 9464 of a free 127.x address, as a function exports them."""
    registry = CollectorRegistry()
    requests = Counter("kasugai_function_requests", "received", registry=registry)
    replies = Counter("kasugai_function_replies", "replies", ["status"], registry=registry)
    replies.labels("NG").inc(0)
    Histogram("kasugai_function_handling_seconds", "h", registry=registry).observe(0.004)
    Info("kasugai_function_next_hop", "next", registry=registry).info({"address": "127.0.0.9"})
    for _ in range(20):
        host = f"127.{random.randint(64, 250)}.{random.randint(1, 250)}.{random.randint(2, 250)}"
        try:
            routes = {"/metrics": lambda: metrics_reply(registry)}
            server = ProbeServer(host, METRICS_PORT, routes, "fake-function")
        except OSError:
            continue
        server.start()
        return server, requests, host
    raise AssertionError("no free 127.x address for port 9464")


def test_figures_reach_the_pages_json_from_a_real_metrics_endpoint() -> None:
    server, requests, host = _metrics_server()
    board = Board()
    board.set_dataflows([dataflow(address=f"{host}:8080/TCP")])
    sampler = FigureSampler(board)
    assert board.metrics_targets() == {}  # nobody looks at it: nothing to scrape
    board.page("ns", "df")
    assert set(board.metrics_targets().values()) == {f"http://{host}:{METRICS_PORT}/metrics"}
    try:
        sampler.sample_once()
        requests.inc(40)
        sampler.sample_once()
    finally:
        server.stop()
    with page_server(board) as address:
        status, _, body = request(address, "/dataflows/ns/df.json")
    assert status == 200
    nodes = json.loads(body)["nodes"]
    figures = nodes[0]["figures"]
    assert figures["requests_total"] == 40
    assert figures["requests_per_second"] > 0
    assert figures["errors_per_second"] == 0
    assert figures["mean_latency_ms"] == pytest.approx(4.0)
    assert figures["next_hop"] == "127.0.0.9"
    sampler.sample_once()  # the endpoint is gone now: no figures, no error
    assert board.page("ns", "df")["nodes"][0]["figures"] is None  # type: ignore[index]


def test_the_sampler_thread_samples_every_interval_until_stopped() -> None:
    server, requests, host = _metrics_server()
    board = Board()
    board.set_dataflows([dataflow(address=host)])
    sampler = FigureSampler(board, interval=0.1)
    board.page("ns", "df")
    sampler.start()
    try:
        requests.inc(5)
        for _ in range(100):
            board.wait(0.1)
            node = board.page("ns", "df")["nodes"][0]  # type: ignore[index]
            if node["figures"] and node["figures"]["requests_total"] == 5:
                break
        assert node["figures"]["requests_total"] == 5
    finally:
        sampler.stop()
        server.stop()


@pytest.mark.parametrize(
    ("value", "public", "expected"),
    [
        ("127.0.0.1:8765", False, ("127.0.0.1", 8765)),
        ("localhost:0", False, ("127.0.0.1", 0)),
        ("[::1]:9000", False, ("::1", 9000)),
        ("127.9.9.9:1", False, ("127.9.9.9", 1)),
        ("off", False, None),
        ("OFF", True, None),
        ("0.0.0.0:8765", True, ("0.0.0.0", 8765)),
    ],
)
def test_view_addresses(value: str, public: bool, expected: object) -> None:
    assert parse_view(value, public) == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("0.0.0.0:8765", "--view-public"),
        ("10.0.0.1:80", "not a loopback address"),
        ("example.com:80", "IP address or localhost"),
        ("127.0.0.1", "ADDRESS:PORT"),
        ("127.0.0.1:99999", "ADDRESS:PORT"),
        (":80", "ADDRESS:PORT"),
    ],
)
def test_bad_view_addresses_say_what_to_do(value: str, words: str) -> None:
    with pytest.raises(ViewAddressError, match=words):
        parse_view(value, public=False)


def test_up_refuses_a_public_view_without_the_flag_before_starting_anything(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = subprocess.run(
        [sys.executable, "-m", "kasugai.cli", "up", str(tmp_path), "--view", "0.0.0.0:8765",
         "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--view-public" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "state").exists()


def test_the_snapshots_dataflows_become_objects_and_junk_is_skipped() -> None:
    snapshot = {"dataflows": [{"namespace": "n", "name": "a", "status": {}}, "junk"]}
    assert snapshot_dataflows(snapshot) == [
        {"metadata": {"namespace": "n", "name": "a"}, "status": {}}
    ]
    assert snapshot_dataflows({"dataflows": "x"}) == []


def test_up_with_a_view_address_already_taken_is_an_error_naming_the_flag(tmp_path) -> None:  # type: ignore[no-untyped-def]
    taken = ProbeServer("127.0.0.1", 0, {"/": lambda: (200, "text/plain", b"")}, "taken")
    try:
        host, port = taken.address
        result = subprocess.run(
            [sys.executable, "-m", "kasugai.cli", "up", str(tmp_path), "--view",
             f"{host}:{port}", "--state-dir", str(tmp_path / "state")],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        taken.stop()
    assert result.returncode == 2
    assert f"--view {host}:{port}" in result.stderr and "Traceback" not in result.stderr


def test_up_runs_without_the_page_when_the_default_port_is_taken(tmp_path) -> None:  # type: ignore[no-untyped-def]
    holder = socket.socket()
    with contextlib.suppress(OSError):  # taken by another kasugai up already: as good
        holder.bind(("127.0.0.1", 8765))
        holder.listen()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "kasugai.cli", "up", str(tmp_path / "missing"),
             "--state-dir", str(tmp_path / "state")],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        holder.close()
    assert "the live page is not served: 127.0.0.1:8765 is taken" in result.stderr
    assert "--view ADDRESS:PORT" in result.stderr
    # It went on, as far as these inputs allow: the missing directory is the error.
    assert result.returncode == 2 and "not a directory of resources" in result.stderr
