"""The calc chain under ``kasugai up``: results, rewiring on an edit, restarts, status, exec."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from local_calc import FIRST, SECOND, send, wait_wired
from local_samples import StartRun, shorten_chain

from kasugai.adapters.local.processes import group_alive
from kasugai.adapters.local.testing import wait_until
from kasugai.commands.demo_chain import ChainProbe

UNTOUCHED = ("send", "plus", "minus", "rcv")
REMOVED = ("multiply", "divide", "average")


def test_a_chain_edit_rewires_without_restarting_untouched_functions(
    calc_sample: Path, start_run: StartRun
) -> None:
    run = start_run(calc_sample)
    wait_wired(run)
    assert send(run, "1", "2", "3", "4", "5") == FIRST
    before = run.pids(UNTOUCHED)
    removed = [pid for pids in run.pids(REMOVED).values() for pid in pids]
    assert all(before.values()) and all(removed)

    started = ChainProbe.now()
    shorten_chain(calc_sample)
    wait_until(lambda: ChainProbe(run.state).rewired_since(started), "minus to reload")
    assert send(run, "1", "2", "3", "4", "5") == SECOND

    assert run.pids(UNTOUCHED) == before
    assert set(run.pods()) == set(UNTOUCHED)
    wait_until(lambda: not any(group_alive(pid) for pid in removed), "removed Pods to stop")
    status = run.dataflow_status("df-calcapp")
    assert status["status"] == "Deployed"
    assert [(c["from"], c["to"]) for c in status["connections"]] == [
        ("send", "plus"),
        ("plus", "minus"),
        ("minus", "rcv"),
    ]


def test_a_killed_function_is_restarted_and_the_chain_works_again(
    calc_sample: Path, start_run: StartRun
) -> None:
    run = start_run(calc_sample)
    wait_wired(run)
    victim = run.pod("divide")["containers"][0]["pid"]
    others = run.pids(("send", "plus", "minus", "multiply", "average", "rcv"))

    os.kill(victim, signal.SIGKILL)

    def restarted() -> bool:
        container = run.pod("divide")["containers"][0]
        return container["restartCount"] == 1 and container["pid"] not in (None, victim)

    wait_until(restarted, "divide to be restarted")
    # The restarted function reads its config at start; its predecessor reconnects on its own.
    wait_until(
        lambda: any(e.get("event") == "start gRPC server" for e in run.events("divide")),
        "divide to listen again",
    )
    assert send(run, "1", "2", "3", "4", "5") == FIRST
    assert run.pids(("send", "plus", "minus", "multiply", "average", "rcv")) == others
    assert run.dataflow_status("df-calcapp")["status"] == "Deployed"
