"""``kasugai graph`` as a user runs it, on the sample files: every format read back, the exit
codes, and colour only on a terminal without NO_COLOR."""

from __future__ import annotations

import itertools
import json
import os
import pty
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter

from kasugai.health_server import ProbeServer, Reply, metrics_reply
from kasugai.view.figures import METRICS_PORT

from .graph_parsers import parse_dot, parse_mermaid, parse_svg

KASUGAI = str(Path(sys.executable).with_name("kasugai"))
SAMPLES = Path(__file__).parents[1] / "fixtures" / "openkasugai"
CALC = SAMPLES / "calc-func"
VIDEO = SAMPLES / "cpugpu-func"
CALC_KEYS = ["send", "plus", "minus", "multiply", "divide", "average", "rcv"]
VIDEO_CHAINS = {
    "cpufunc-sample/df-cpu-p1c1 (Deploying)": ["pip", "rcv"],
    "cpufunc-sample/df-cpu-p2c1 (Deploying)": ["pip", "dsa", "rcv"],
    "cpufunc-sample/df-cpu-p3c1 (Deploying)": ["pip", "rcv"],
}


def graph(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KASUGAI, "graph", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_calc_files_in_every_format() -> None:
    mermaid = graph("-f", str(CALC), "-o", "mermaid")
    assert mermaid.returncode == 0, mermaid.stderr
    drawn = parse_mermaid(mermaid.stdout)
    assert [label.split(" ")[0] for label in drawn.nodes.values()] == CALC_KEYS
    assert len(drawn.edges) == 6

    dot = parse_dot(graph("-f", str(CALC), "-o", "dot").stdout)
    assert [label.split(" ")[0] for label in dot.nodes.values()] == CALC_KEYS
    assert len(dot.edges) == 6

    nodes, edges = parse_svg(graph("-f", str(CALC), "-o", "svg").stdout)
    assert (nodes, len(edges)) == (CALC_KEYS, 6)

    one = json.loads(graph("df-calcapp", "-f", str(CALC), "-o", "json").stdout)
    assert [n["key"] for n in one["nodes"]] == CALC_KEYS
    assert [(e["source"], e["target"]) for e in one["edges"]] == list(itertools.pairwise(CALC_KEYS))
    assert {e["protocol"] for e in one["edges"]} == {"TCP"}
    every = json.loads(graph("-f", str(CALC), "-o", "json").stdout)
    assert [c["name"] for c in every["items"]] == ["df-calcapp"]

    tree = graph("-f", str(CALC))
    assert tree.returncode == 0
    assert tree.stdout.startswith("DataFlow cpufunc-calcapp/df-calcapp  Deploying")
    assert "\x1b[" not in tree.stdout  # not a terminal: no colour


def test_video_samples_draw_every_dataflow_or_the_one_named() -> None:
    drawn = parse_mermaid(graph("-f", str(VIDEO), "-o", "mermaid").stdout)
    assert drawn.titles == list(VIDEO_CHAINS)
    assert [label.split(" ")[0] for label in drawn.nodes.values()] == [
        key for keys in VIDEO_CHAINS.values() for key in keys
    ]
    assert len(drawn.edges) == sum(len(keys) - 1 for keys in VIDEO_CHAINS.values())

    one = parse_dot(graph("df-cpu-p2c1", "-f", str(VIDEO), "-o", "dot").stdout)
    assert one.titles == ["cpufunc-sample/df-cpu-p2c1 (Deploying)"]
    assert [(s.split(" ")[0], t.split(" ")[0]) for s, t, _ in one.labelled()] == [
        ("pip", "dsa"),
        ("dsa", "rcv"),
    ]
    nodes, _ = parse_svg(graph("-f", str(VIDEO), "-o", "svg", "-n", "cpufunc-sample").stdout)
    assert nodes == [key for keys in VIDEO_CHAINS.values() for key in keys]


def test_a_dataflow_that_is_not_there_exits_1_and_says_where_it_looked(tmp_path: Path) -> None:
    missing = graph("nope", "-f", str(CALC))
    assert missing.returncode == 1
    assert missing.stderr == 'error: DataFlow "nope" not found in the files given\n'
    elsewhere = graph("df-calcapp", "-n", "other", "-f", str(CALC))
    assert elsewhere.returncode == 1 and "in namespace other" in elsewhere.stderr
    no_state = graph("--state-dir", str(tmp_path / "none"))
    assert no_state.returncode == 1
    assert "no local runtime has run with state directory" in no_state.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cluster", "-f", str(CALC)], "-f and --cluster exclude each other"),
        (["--state-dir", "x", "-f", str(CALC)], "--state-dir is the local runtime's"),
        (["--context", "kind", "-f", str(CALC)], "--kubeconfig and --context need --cluster"),
        (["-o", "png", "-f", str(CALC)], "invalid choice: 'png'"),
        (["-f", "/no/such/path"], "/no/such/path"),
        (["../../api/v1/secrets", "--cluster"], "DATAFLOW '../../api/v1/secrets' is not a valid"),
        (["-n", "a/b", "-f", str(CALC)], "--namespace 'a/b' is not a valid name"),
    ],
)
def test_usage_and_input_errors_exit_2(args: list[str], message: str) -> None:
    found = graph(*args)
    assert found.returncode == 2
    assert message in found.stderr
    assert found.stdout == ""


def test_an_input_in_error_is_drawn_and_reported_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "df.yaml").write_text(
        "apiVersion: example.com/v1\nkind: DataFlow\n"
        "metadata: {name: df-bad, namespace: ns}\nspec: {functionChainRef: 42}\n"
    )
    found = graph("-f", str(tmp_path))
    assert found.returncode == 2
    assert found.stdout.startswith("DataFlow ns/df-bad  Error")
    assert "spec.functionChainRef: expected an object" in found.stderr


def _on_a_terminal(env: dict[str, str]) -> str:
    """``kasugai graph -f CALC`` with its stdout on a pseudo-terminal; what it wrote."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [KASUGAI, "graph", "-f", str(CALC)],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env={k: v for k, v in {**os.environ, **env}.items() if v},
    )
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal's other end closed: the process is done writing
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    assert process.wait(timeout=120) == 0
    return out.decode()


def test_the_tree_is_coloured_on_a_terminal_unless_no_color_is_set() -> None:
    coloured = _on_a_terminal({"NO_COLOR": ""})
    assert "\x1b[" in coloured and "send" in coloured
    plain = _on_a_terminal({"NO_COLOR": "1"})
    assert "\x1b[" not in plain and "send" in plain


def test_metrics_from_the_addresses_in_a_state_dir_go_on_the_edges(tmp_path: Path) -> None:
    """``--metrics`` end to end through the CLI: the state a supervisor left (written here, as
    test_graph_local's real run needs the functions' own /metrics), and real HTTP servers on the
    functions' loopback addresses at port 9464, whose counters move between the two scrapes."""
    # An address of its own in 127.0.0.0/8: port 9464 may be taken on 127.0.0.1.
    address = ".".join(["127", *(str(secrets.randbelow(200) + 20) for _ in range(3))])
    registry = CollectorRegistry()
    requests = Counter("kasugai_function_requests", "received", registry=registry)
    replies = Counter("kasugai_function_replies", "replies", ["status"], registry=registry)
    replies.labels("NG").inc(3)
    server = ProbeServer(
        address, METRICS_PORT, {"/metrics": lambda: _counting(requests, registry)}, "m"
    )
    functions = [
        {"key": "plus", "pod": "plus-pod", "phase": "Running", "address": address},
        {"key": "rcv", "pod": "rcv-pod", "phase": "Running", "address": ""},
    ]
    connection = {
        "from": "plus",
        "to": "rcv",
        "state": "Published",
        "destination": "x:1",
        "protocol": "TCP",
    }
    status = {"status": "Deployed", "functions": functions, "connections": [connection]}
    snapshot = {
        "supervisor": {"phase": "Running"},
        "dataflows": [{"namespace": "ns", "name": "df", "status": status}],
    }
    (tmp_path / "state.json").write_text(json.dumps(snapshot))
    server.start()
    try:
        found = graph("--state-dir", str(tmp_path), "--metrics", "-o", "mermaid")
    finally:
        server.stop()
    assert found.returncode == 0, found.stderr
    [(_, _, label)] = parse_mermaid(found.stdout).edges
    assert label.startswith("x:1 TCP; ") and label.endswith(" req/s, 3 NG")
    assert float(label.split("; ")[1].split(" ")[0]) > 0


def _counting(requests: Counter, registry: CollectorRegistry) -> Reply:
    """The metrics reply, after one more handled request: every scrape sees the count move."""
    requests.inc(7)
    return metrics_reply(registry)
