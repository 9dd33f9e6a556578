"""The chain model read from real plan output, and hop figures scraped over real HTTP."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram, Info

from kasugai.health_server import ProbeServer, metrics_reply
from kasugai.view.chain import HopFigures, chain_from_dataflow, chain_to_json
from kasugai.view.figures import Counts, HopSampler, metrics_url, parse_counts, scrape
from view.planned import planned_dataflow


@pytest.fixture(scope="module")
def planned_calc() -> dict:
    return planned_dataflow()


def test_the_calc_plan_gives_seven_nodes_and_six_edges_in_chain_order(planned_calc: dict) -> None:
    chain = chain_from_dataflow(planned_calc)
    assert (chain.namespace, chain.name, chain.status) == (
        "cpufunc-calcapp",
        "df-calcapp",
        "Deploying",
    )
    assert [n.key for n in chain.nodes] == [
        "send", "plus", "minus", "multiply", "divide", "average", "rcv",
    ]  # fmt: skip
    assert [(e.source, e.target) for e in chain.edges] == [
        ("send", "plus"), ("plus", "minus"), ("minus", "multiply"),
        ("multiply", "divide"), ("divide", "average"), ("average", "rcv"),
    ]  # fmt: skip
    assert {e.protocol for e in chain.edges} == {"TCP"}
    assert not any(e.published for e in chain.edges)
    data = chain_to_json(chain)
    assert json.loads(json.dumps(data)) == data
    assert [e["published"] for e in data["edges"]] == [False] * 6


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.sampled_from(["metadata", "status", "spec"]), json_values))
def test_any_json_gives_a_chain_and_never_an_exception(dataflow: dict) -> None:
    chain = chain_from_dataflow(dataflow)
    assert all(e.source and e.target for e in chain.edges)
    chain_to_json(chain)


def test_an_edge_to_an_unlisted_function_is_drawn_as_unknown() -> None:
    chain = chain_from_dataflow(
        {"status": {"functions": [{"key": "a", "pod": "p", "phase": "Running"}],
                    "connections": [{"from": "a", "to": "b", "state": "Waiting"}]}}
    )  # fmt: skip
    assert [(n.key, n.phase) for n in chain.nodes] == [("a", "Running"), ("b", "Unknown")]


def _function_registry(requests: int, ng: int, next_hop: str) -> CollectorRegistry:
    registry = CollectorRegistry()
    counter = Counter("kasugai_function_requests", "received", registry=registry)
    counter.inc(requests)
    replies = Counter("kasugai_function_replies", "replies", ["status"], registry=registry)
    replies.labels("OK").inc(requests - ng)
    replies.labels("NG").inc(ng)
    histogram = Histogram("kasugai_function_handling_seconds", "handling", registry=registry)
    for _ in range(requests):
        histogram.observe(0.002)
    Info("kasugai_function_next_hop", "next", registry=registry).info({"address": next_hop})
    return registry


def test_figures_are_scraped_from_real_metrics_endpoints() -> None:
    registry = _function_registry(10, 3, "127.0.0.9:5000")
    server = ProbeServer("127.0.0.1", 0, {"/metrics": lambda: metrics_reply(registry)}, "m")
    server.start()
    try:
        host, port = server.address
        url = metrics_url(host, port)
        assert url is not None
        found = scrape({"plus": url, "gone": metrics_url("127.0.0.1", 1) or ""})
    finally:
        server.stop()
    assert set(found) == {"plus"}  # the function that did not answer has no figures
    counts = found["plus"]
    assert (counts.requests, counts.errors, counts.latency_count) == (10, 3, 10)
    assert counts.next_hop == "127.0.0.9:5000"


def test_rates_need_two_samples_and_a_restart_gives_no_rate() -> None:
    now = [100.0]
    sampler = HopSampler(clock=lambda: now[0])
    first = sampler.figures({"plus": Counts(requests=10, errors=1)})
    assert first["plus"] == HopFigures(requests_total=10, errors_total=1)
    now[0] = 102.0
    second = sampler.figures(
        {"plus": Counts(requests=50, errors=5, latency_sum=0.4, latency_count=40)}
    )
    assert second["plus"].requests_per_second == 20.0
    assert second["plus"].errors_per_second == 2.0
    assert second["plus"].mean_latency_ms == pytest.approx(10.0)
    now[0] = 104.0
    restarted = sampler.figures({"plus": Counts(requests=3)})
    assert restarted["plus"].requests_per_second == 0.0


@pytest.mark.parametrize("address", ["", "a/b", "x@y", "1.2.3.4?q", "a" * 100])
def test_unusable_addresses_give_no_url(address: str) -> None:
    assert metrics_url(address) is None


def test_a_body_without_function_metrics_gives_no_counts() -> None:
    assert parse_counts("# HELP x y\nx 1\n") is None
    assert parse_counts("not prometheus {{{") is None
