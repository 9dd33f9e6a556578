"""Per-hop metrics and the request id, on real ``kasugai-calc`` processes on loopback.

A chain plus → minus → receiver gets an exact number of requests, and a lone multiply (no next hop)
gets some that must fail; each function's /metrics is then scraped over HTTP on its own address at
the default port 9464 and parsed with prometheus-client's own parser.
"""

from __future__ import annotations

import os
import socket
import urllib.request

import grpc
import pytest
from kasugai_functions.calc import operator_pb2, operator_pb2_grpc
from kasugai_functions.calc.arithmetic import Operator
from kasugai_functions.calc.testing import CalcProcess, LocalCalc, run_client
from kasugai_functions.metrics_endpoint import DEFAULT_METRICS_PORT
from prometheus_client.parser import text_string_to_metric_families

from kasugai.testing.polling import wait_until

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(function: CalcProcess) -> tuple[Samples, set[str]]:
    """Every sample of the function's /metrics, and the names of its metric families."""
    url = f"http://{function.host}:{DEFAULT_METRICS_PORT}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    samples: Samples = {}
    families = set()
    for family in text_string_to_metric_families(text):
        families.add(family.name)
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples, families


def send(
    function: CalcProcess, values: list[float], request_id: str | None = None
) -> tuple[operator_pb2.OperateResponse, grpc.Call]:
    metadata = () if request_id is None else (("x-request-id", request_id),)
    with grpc.insecure_channel(function.address) as channel:
        stub = operator_pb2_grpc.OperatorServiceStub(channel)
        request = operator_pb2.OperateRequest(inputs=values)
        reply, call = stub.Operate.with_call(request, timeout=60, metadata=metadata)
        return reply, call


def status(value: str) -> tuple[tuple[str, str]]:
    return (("status", value),)


def next_hop(samples: Samples) -> str:
    [address] = [
        dict(labels)["address"]
        for (name, labels), _ in samples.items()
        if name == "kasugai_function_next_hop_info"
    ]
    return address


@pytest.fixture
def chain(calc: LocalCalc) -> list[CalcProcess]:
    return calc.start_chain([Operator.PLUS, Operator.MINUS, Operator.RECEIVER])


def test_counts_per_hop_are_exact_and_the_next_hop_follows_a_rewire(
    calc: LocalCalc, chain: list[CalcProcess]
) -> None:
    plus, minus, receiver = chain
    lone = calc.start("lone-multiply", Operator.MULTIPLY)  # no config.yaml: every request is NG
    for _ in range(5):
        assert send(plus, [1.0, 2.0])[0].status == operator_pb2.OK
    for _ in range(2):
        assert send(lone, [1.0, 2.0])[0].status == operator_pb2.NG

    for forwarder, successor in ((plus, minus), (minus, receiver)):
        samples, _ = scrape(forwarder)
        assert samples[("kasugai_function_requests_total", ())] == 5
        assert samples[("kasugai_function_replies_total", status("OK"))] == 5
        assert samples[("kasugai_function_replies_total", status("NG"))] == 0
        assert samples[("kasugai_function_forwards_total", status("OK"))] == 5
        assert samples[("kasugai_function_forwards_total", status("NG"))] == 0
        assert samples[("kasugai_function_handling_seconds_count", ())] == 5
        assert samples[("kasugai_function_forwarding_seconds_count", ())] == 5
        assert next_hop(samples) == successor.address

    samples, families = scrape(receiver)
    assert samples[("kasugai_function_requests_total", ())] == 5
    assert samples[("kasugai_function_replies_total", status("OK"))] == 5
    assert samples[("kasugai_function_handling_seconds_count", ())] == 5
    assert "kasugai_function_forwards" not in families  # the receiver forwards nothing
    assert "kasugai_function_forwarding_seconds" not in families
    assert next_hop(samples) == ""

    samples, _ = scrape(lone)
    assert samples[("kasugai_function_requests_total", ())] == 2
    assert samples[("kasugai_function_replies_total", status("OK"))] == 0
    assert samples[("kasugai_function_replies_total", status("NG"))] == 2
    assert samples[("kasugai_function_forwards_total", status("NG"))] == 2
    assert samples[("kasugai_function_forwarding_seconds_count", ())] == 2
    assert next_hop(samples) == ""

    plus.point_to(receiver.host)  # skip minus: SIGHUP with a new config.yaml
    plus.wait_for_event("load config", count=2)
    assert next_hop(scrape(plus)[0]) == receiver.address
    lone.point_to(receiver.host)
    lone.wait_for_event("load config", count=2)  # its first said config.yaml was missing
    assert next_hop(scrape(lone)[0]) == receiver.address


def test_the_client_request_id_is_logged_by_every_hop(
    calc: LocalCalc, chain: list[CalcProcess]
) -> None:
    plus = chain[0]
    client = run_client(
        "-host", plus.host, "-port", str(plus.port), "--request-id", "trace-42", "1", "2"
    )
    assert client.returncode == 0, client.stderr
    assert '"request_id": "trace-42"' in client.stderr
    for function in chain:
        for event in ("start call Do", "end call Do") if function is not chain[-1] else ("result",):
            function.wait_for_event(event, where=lambda e: e.get("request_id") == "trace-42")


def test_a_request_without_an_id_gets_one_at_the_first_hop_and_keeps_it(
    chain: list[CalcProcess],
) -> None:
    plus, minus, receiver = chain
    assert send(plus, [3.0])[0].status == operator_pb2.OK
    [start] = plus.wait_for_event("start call Do")
    request_id = start["request_id"]
    assert len(request_id) == 32  # uuid4 hex
    minus.wait_for_event("start call Do", where=lambda e: e.get("request_id") == request_id)
    receiver.wait_for_event("result", where=lambda e: e.get("request_id") == request_id)
    # An id that could smuggle anything into a log line is replaced, not passed on.
    assert send(plus, [4.0], request_id="bad id with spaces")[0].status == operator_pb2.OK
    [_, second] = plus.wait_for_event("start call Do", count=2)
    assert second["request_id"] != "bad id with spaces"
    assert len(second["request_id"]) == 32


def test_a_busy_metrics_port_costs_a_warning_not_the_function(calc: LocalCalc) -> None:
    host = calc.next_host()
    with socket.socket() as squatter:
        squatter.bind((host, DEFAULT_METRICS_PORT))
        squatter.listen()
        receiver = calc.start("receiver", Operator.RECEIVER)
        [warning] = receiver.events("metrics endpoint off: cannot listen")
        assert warning["port"] == DEFAULT_METRICS_PORT
        assert "KASUGAI_METRICS_PORT" in warning["fix"]
        assert send(receiver, [1.0])[0].status == operator_pb2.OK
        receiver.wait_for_event("result")


def test_metrics_port_zero_serves_no_metrics(calc: LocalCalc) -> None:
    env = {**os.environ, "KASUGAI_METRICS_PORT": "0"}
    receiver = calc.start("receiver", Operator.RECEIVER, env=env)
    assert send(receiver, [1.0])[0].status == operator_pb2.OK
    assert receiver.events("serving metrics") == []
    with socket.socket() as probe:
        probe.settimeout(5)
        assert probe.connect_ex((receiver.host, DEFAULT_METRICS_PORT)) != 0


def test_a_bad_metrics_port_setting_is_a_warning_naming_it(calc: LocalCalc) -> None:
    env = {**os.environ, "KASUGAI_METRICS_PORT": "not-a-port"}
    receiver = calc.start("receiver", Operator.RECEIVER, env=env)
    [warning] = receiver.events("metrics endpoint off")
    assert "KASUGAI_METRICS_PORT" in warning["reason"]
    assert send(receiver, [1.0])[0].status == operator_pb2.OK
    wait_until(lambda: receiver.events("result"), "the result")


def test_the_metrics_port_flag_wins_over_the_environment(calc: LocalCalc) -> None:
    env = {**os.environ, "KASUGAI_METRICS_PORT": "not-a-port"}
    program = [str(calc.executable), "-metrics-port", "9465"]
    receiver = calc.start("receiver", Operator.RECEIVER, program=program, env=env)
    [serving] = receiver.events("serving metrics")
    assert serving["address"] == f"{receiver.host}:9465"
    url = f"http://{receiver.host}:9465/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert b"kasugai_function_requests_total 0.0" in response.read()
