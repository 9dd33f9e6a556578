"""``kasugai graph`` on a real ``kasugai up`` of the calc sample: the running chain as the local
runtime's state says it, and each hop's rate scraped from the functions while the calc client
sends numbers through the chain."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kasugai.adapters.local.testing import LocalRun, wait_until
from kasugai.commands.demo_chain import ChainProbe

from .graph_parsers import parse_mermaid

REPO = Path(__file__).resolve().parents[2]
CALC_SAMPLE = REPO / "manifests" / "samples" / "calc"
CALC_KEYS = ["send", "plus", "minus", "multiply", "divide", "average", "rcv"]
OPERATORS = CALC_KEYS[1:-1]
SEND_POD = "df-calcapp-wbfunction-send-cpu-pod"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRun]:
    """The calc sample running, every function wired to its next hop; stopped and checked gone."""
    root = tmp_path_factory.mktemp("graph-local")
    sample = root / "sample"
    shutil.copytree(CALC_SAMPLE, sample)
    started = LocalRun(sample, root / "state", root / "up.log")
    try:
        started.start()
        wait_until(ChainProbe(started.state).wired, "every function to load its next hop")
        yield started
    finally:
        started.close()
    assert started.leftovers() == []


def _graph_json(run: LocalRun, *args: str) -> dict[str, Any]:
    found = run.kasugai("graph", "df-calcapp", "-o", "json", *args)
    assert found.returncode == 0, found.stderr
    return dict(json.loads(found.stdout))


def test_the_running_chain_is_drawn_from_the_state_dir(run: LocalRun) -> None:
    chain = _graph_json(run)
    assert chain["status"] == "Deployed"
    assert [(n["key"], n["phase"]) for n in chain["nodes"]] == [(k, "Running") for k in CALC_KEYS]
    addresses = {n["key"]: n["address"] for n in chain["nodes"]}
    assert all(address.startswith("127.") for address in addresses.values())
    assert all(e["published"] and e["destination"] for e in chain["edges"])

    mermaid = run.kasugai("graph", "-o", "mermaid")
    drawn = parse_mermaid(mermaid.stdout)
    assert [label for label in drawn.nodes.values()] == [f"{k} (Running)" for k in CALC_KEYS]
    assert all(label.endswith(":8080/TCP") for _, _, label in drawn.edges)  # Published: no state
    tree = run.kasugai("graph")
    assert tree.returncode == 0 and "Deployed" in tree.stdout
    assert addresses["plus"] in tree.stdout

    missing = run.kasugai("graph", "df-nope")
    assert missing.returncode == 1
    assert 'DataFlow "df-nope" not found in the local runtime' in missing.stderr


def test_metrics_put_each_hops_rate_on_the_chain_while_numbers_flow(run: LocalRun) -> None:
    stop = threading.Event()
    sent: list[str] = []

    def traffic() -> None:  # the calc client, as a user sends numbers, until the graph is drawn
        while not stop.is_set():
            sent.append(run.exec(SEND_POD, "kasugai-calc", "1", "2", "3", "4", "5").stdout)

    sender = threading.Thread(target=traffic, daemon=True)
    sender.start()
    try:
        wait_until(lambda: sent, "the first numbers to go through the chain")
        chain = _graph_json(run, "--metrics")
        mermaid = run.kasugai("graph", "-o", "mermaid", "--metrics").stdout
    finally:
        stop.set()
        sender.join(timeout=120)
    assert sent and all(out.strip() == "OK" for out in sent), sent
    # The operators serve requests (send is the client's Pod, rcv the end): each has a rate.
    figures = {n["key"]: n["figures"] for n in chain["nodes"]}
    missing = [key for key in OPERATORS if figures[key] is None]
    assert not missing, f"no metrics scraped from {missing} (port 9464 of their addresses)"
    assert all(figures[key]["requests_total"] > 0 for key in OPERATORS), figures
    assert any(figures[key]["requests_per_second"] > 0 for key in OPERATORS), figures
    drawn = parse_mermaid(mermaid)
    labels = {source.split(" ")[0]: label for source, _, label in drawn.labelled()}
    for key in OPERATORS:
        assert " req/s, " in labels[key] and labels[key].endswith(" NG"), labels


def test_after_down_the_last_known_chain_is_drawn_as_stopped(run: LocalRun) -> None:
    down = run.down()
    assert down.returncode == 0, down.stderr
    found = run.kasugai("graph", "df-calcapp", "-o", "json")
    assert found.returncode == 0
    assert "no supervisor running" in found.stderr
    chain = json.loads(found.stdout)
    assert chain["status"] == "Stopped"
    assert [n["key"] for n in chain["nodes"]] == CALC_KEYS
