"""The renderers of ``kasugai graph`` (pure: Chain in, text out), read back by real parsers, on the
calc sample's real plan and on hostile names and addresses."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter

from kasugai.commands.graph import sample_figures
from kasugai.health_server import ProbeServer, metrics_reply
from kasugai.view.chain import Chain, HopFigures, chain_from_dataflow
from kasugai.view.figures import metrics_url
from kasugai.view.render_dot import render_dot
from kasugai.view.render_labels import edge_label, node_label, plain
from kasugai.view.render_mermaid import render_mermaid
from kasugai.view.render_svg import render_svg
from kasugai.view.render_tree import render_tree
from view.planned import planned_dataflow

from .graph_parsers import SVG, parse_dot, parse_mermaid, parse_svg

CALC_KEYS = ["send", "plus", "minus", "multiply", "divide", "average", "rcv"]
CALC_HOPS = list(itertools.pairwise(CALC_KEYS))


@pytest.fixture(scope="module")
def calc() -> Chain:
    return chain_from_dataflow(planned_dataflow())


def _keys(labels: list[str]) -> list[str]:
    return [label.split(" (")[0] for label in labels]


def test_mermaid_of_the_calc_plan_reads_back_as_seven_nodes_and_six_edges(calc: Chain) -> None:
    drawn = parse_mermaid(render_mermaid([calc]))
    assert drawn.titles == ["cpufunc-calcapp/df-calcapp (Deploying)"]
    assert list(drawn.nodes.values()) == [f"{k} (Absent)" for k in CALC_KEYS]
    assert [(s.split(" ")[0], t.split(" ")[0]) for s, t, _ in drawn.labelled()] == CALC_HOPS
    assert {label for _, _, label in drawn.edges} == {"TCP; Waiting"}
    assert set(drawn.classes.values()) == {"absent"}


def test_dot_of_the_calc_plan_reads_back_with_pydot(calc: Chain) -> None:
    drawn = parse_dot(render_dot([calc]))
    assert drawn.titles == ["cpufunc-calcapp/df-calcapp (Deploying)"]
    assert _keys(list(drawn.nodes.values())) == CALC_KEYS
    assert [(s.split(" ")[0], t.split(" ")[0]) for s, t, _ in drawn.labelled()] == CALC_HOPS
    assert {label for _, _, label in drawn.edges} == {"TCP; Waiting"}


def test_svg_of_the_calc_plan_has_one_node_group_per_function(calc: Chain) -> None:
    nodes, edges = parse_svg(render_svg([calc]))
    assert nodes == CALC_KEYS
    assert edges == ["TCP; Waiting"] * 6


def test_the_tree_lists_functions_in_chain_order_with_their_next_hop(calc: Chain) -> None:
    lines = render_tree([calc]).splitlines()
    assert lines[0].startswith("DataFlow cpufunc-calcapp/df-calcapp  Deploying")
    functions = [line for line in lines if line.startswith(("├── ", "└── "))]
    assert [line.split()[1] for line in functions] == CALC_KEYS
    hops = [line.split("→ ")[1].split()[0] for line in lines if "→ " in line]
    assert hops == CALC_KEYS[1:]
    assert "\x1b[" not in "\n".join(lines)


def _published(**figures: float) -> Chain:
    return chain_from_dataflow(
        {
            "metadata": {"namespace": "ns", "name": "df"},
            "status": {
                "status": "Deployed",
                "functions": [
                    {"key": "a", "pod": "a-pod", "phase": "Running", "address": "10.0.0.1"},
                    {"key": "b", "pod": "b-pod", "phase": "Pending"},
                ],
                "connections": [
                    {"from": "a", "to": "b", "state": "Published", "destination": "10.96.0.9:8080",
                     "protocol": "TCP"},
                ],
            },
        }
    ).with_figures({"a": HopFigures(**figures)} if figures else {})  # fmt: skip


def test_a_published_edge_shows_its_address_and_its_sources_figures() -> None:
    chain = _published(requests_per_second=12.0, errors_total=0)
    label = "10.96.0.9:8080 TCP; 12.0 req/s, 0 NG"
    assert parse_mermaid(render_mermaid([chain])).edges[0][2] == label
    assert parse_dot(render_dot([chain])).edges[0][2] == label
    assert parse_svg(render_svg([chain]))[1] == [label]
    assert f"→ b  {label}" in render_tree([chain])
    assert _published().edges[0].published
    assert edge_label(_published().edges[0]) == "10.96.0.9:8080 TCP"
    said = chain_from_dataflow(
        {"status": {"connections": [
            {"from": "a", "to": "b", "state": "Published", "destination": "10.0.0.1:8080/TCP",
             "protocol": "TCP"},
            {"from": "b", "to": "c", "state": "Published", "destination": "10.0.0.2:5004/UDP",
             "protocol": "RTP"},
        ]}}
    )  # fmt: skip
    assert [edge_label(e) for e in said.edges] == ["10.0.0.1:8080/TCP", "10.0.0.2:5004/UDP RTP"]


def test_the_tree_is_coloured_only_when_asked() -> None:
    chain = _published()
    coloured = render_tree([chain], colour=True)
    assert "\x1b[32mRunning" in coloured  # the phase in green
    assert "\x1b[" not in render_tree([chain], colour=False)


HOSTILE = [
    "<script>alert(1)</script>",
    'a"]; b["x',
    '"a" -> "b"',
    "a --> b",
    "x|y",
    "back\\",
    "\x1b[31mred\x1b[0m",
    "#quot;",
    "&amp; ]]> <!--",
    "evil\u202ecod.exe",  # a right-to-left override
    "one\u2028two",  # a line separator
]


def _dataflow(keys: list[str], addresses: list[str], name: str) -> dict[str, Any]:
    functions = [{"key": k, "pod": k, "phase": "Running"} for k in keys]
    connections = [
        {"from": s, "to": t, "state": "Waiting", "destination": a, "protocol": a}
        for s, t, a in zip(keys, keys[1:], addresses, strict=False)
    ]
    status = {"status": name, "functions": functions, "connections": connections}
    return {"metadata": {"namespace": name, "name": name}, "status": status}


def _check_every_format(chain: Chain) -> None:
    labels = [node_label(n) for n in chain.nodes]
    edges = [edge_label(e, chain.node(e.source)) for e in chain.edges]

    mermaid = parse_mermaid(render_mermaid([chain]))
    assert list(mermaid.nodes.values()) == labels
    assert [label for _, _, label in mermaid.edges] == edges

    dot = parse_dot(render_dot([chain]))
    assert list(dot.nodes.values()) == labels
    assert [label for _, _, label in dot.edges] == edges

    svg_nodes, svg_edges = parse_svg(render_svg([chain]))
    assert svg_nodes == [plain(n.key) for n in chain.nodes]
    assert svg_edges == edges

    tree = render_tree([chain], colour=True)
    assert "\x1b[31mred" not in tree  # a name's escape sequence never reaches the terminal
    assert len(tree.splitlines()) == 1 + len(chain.nodes) + len(chain.edges)


def test_hostile_names_stay_labels_in_every_format() -> None:
    chain = chain_from_dataflow(_dataflow(HOSTILE, HOSTILE[::-1], '"]<b>'))
    assert len(chain.nodes) == len(HOSTILE)
    _check_every_format(chain)
    assert "<script>" not in render_svg([chain])
    assert "<script>" not in render_mermaid([chain])


@settings(max_examples=40)
@given(
    st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=5, unique=True),
    st.lists(st.text(max_size=40), max_size=5),
    st.text(max_size=20),
)
def test_any_keys_and_addresses_give_parseable_output_with_every_node(
    keys: list[str], addresses: list[str], name: str
) -> None:
    chain = chain_from_dataflow(_dataflow(keys, addresses, name))
    assert len(chain.nodes) == len(keys)
    _check_every_format(chain)


def test_figures_are_sampled_from_a_real_metrics_endpoint_between_two_scrapes() -> None:
    registry = CollectorRegistry()
    requests = Counter("kasugai_function_requests", "received", registry=registry)
    Counter("kasugai_function_replies", "replies", ["status"], registry=registry).labels("NG").inc(
        2
    )
    server = ProbeServer("127.0.0.1", 0, {"/metrics": lambda: metrics_reply(registry)}, "m")
    server.start()
    try:
        host, port = server.address
        chain = _published()
        assert chain.nodes[0].address == "10.0.0.1"
        chain = chain_from_dataflow(
            {"status": {"functions": [{"key": "a", "address": host}, {"key": "b"}],
                        "connections": [{"from": "a", "to": "b", "state": "Published"}]}}
        )  # fmt: skip

        def traffic(seconds: float) -> None:  # what the function handles between the scrapes
            requests.inc(30)

        [sampled] = sample_figures([chain], port=port, sleep=traffic)
    finally:
        server.stop()
    figures = sampled.nodes[0].figures
    assert figures is not None and figures.requests_per_second > 0
    assert (figures.requests_total, figures.errors_total) == (30, 2)
    assert sampled.nodes[1].figures is None  # no address: no figures, no error
    assert "req/s, 2 NG" in edge_label(sampled.edges[0], sampled.nodes[0])


def test_svg_lays_a_branching_cycle_out_left_to_right_by_longest_path() -> None:
    status = {
        "functions": [{"key": k, "phase": "Running"} for k in ("src", "a", "b", "c", "sink")],
        "connections": [
            {"from": s, "to": t, "state": "Published"}
            for s, t in [("src", "a"), ("src", "b"), ("b", "c"), ("a", "sink"), ("c", "sink"),
                         ("sink", "src")]  # the last one closes a cycle
        ],
    }  # fmt: skip
    root = ET.fromstring(render_svg([chain_from_dataflow({"status": status})]))
    lefts = {
        "".join(g.find(f"{SVG}text").itertext()): float(g.find(f"{SVG}rect").get("x"))
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "node"
    }
    assert lefts["src"] < lefts["a"] == lefts["b"] < lefts["c"] < lefts["sink"]
    assert len([g for g in root.iter(f"{SVG}g") if g.get("class") == "edge"]) == 6


@pytest.mark.parametrize(
    ("address", "url"),
    [
        ("127.0.240.251:8080/TCP", "http://127.0.240.251:9464/metrics"),  # as the core writes it
        ("10.0.0.1,10.0.0.2:8080/TCP,9090/UDP", "http://10.0.0.1:9464/metrics"),
        ("fd00::1:8080/TCP", "http://[fd00::1]:9464/metrics"),
        ("[fd00::1]:80/UDP", "http://[fd00::1]:9464/metrics"),
        ("fd00::1", "http://[fd00::1]:9464/metrics"),
        ("", None),
        ("10.1.2.3", "http://10.1.2.3:9464/metrics"),
        ("evil.example:80/TCP", None),  # a host name: never looked up
        ("10.0.0.1/8", None),
    ],
)
def test_the_metrics_url_is_the_first_ip_of_a_status_address(address: str, url: str | None) -> None:
    assert metrics_url(address) == url
