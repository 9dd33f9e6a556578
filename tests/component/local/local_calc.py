"""Talking to the calc chain run by ``kasugai up``: send numbers, read the receiver's result."""

from __future__ import annotations

from kasugai.adapters.local.testing import LocalRun, wait_until
from kasugai.commands.demo_chain import ChainProbe

FIRST = [
    ("plus", 15.0),
    ("minus", -13.0),
    ("multiply", 120.0),
    ("divide", 0.008333333333333333),
    ("average", 30.502083333333335),
]
SECOND = FIRST[:2]
SEND_POD = "df-calcapp-wbfunction-send-cpu-pod"


def wait_wired(run: LocalRun) -> None:
    """Until every function has loaded its next hop (and the receiver listens)."""
    wait_until(ChainProbe(run.state).wired, "every function to load its next hop")


def results(run: LocalRun) -> list[list[tuple[str, float]]]:
    return [
        [(r["operator"], r["value"]) for r in e["results"]]
        for e in run.events("rcv")
        if e.get("event") == "result"
    ]


def send(run: LocalRun, *values: str) -> list[tuple[str, float]]:
    """Send ``values`` from the send Pod (``kasugai exec``); the receiver's new result."""
    before = len(results(run))
    attempt = run.exec(SEND_POD, "kasugai-calc", *values)
    assert attempt.returncode == 0, f"kasugai exec failed: {attempt.stdout}{attempt.stderr}"
    assert attempt.stdout.strip() == "OK"
    return wait_until(lambda: results(run)[before:], "the receiver's result")[-1]
