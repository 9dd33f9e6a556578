"""Make before break under load: 4 clients on persistent gRPC connections into ``plus`` while
the running chain is edited 20 times (remove divide, insert it again, swap minus and multiply,
swap them back, replace multiply's type by another version of it; four rounds), with 0 NG,
0 errors, and every answer computed by a chain that was in force while it was under way (the
receiver's results, matched to each request)."""

from __future__ import annotations

from pathlib import Path

from local_calc import wait_wired
from local_samples import StartRun

from kasugai.adapters.local.testing import wait_until
from kasugai.commands.demo_chain import CHAIN_FILE
from kasugai.testing.rewire_load import (
    BASE,
    Load,
    add_second_type_version,
    check,
    edit_chain,
    rounds_of_edits,
)

ROUNDS = 4
CLIENTS = 4


def test_topology_edits_under_load_lose_no_request(calc_sample: Path, start_run: StartRun) -> None:
    full = (calc_sample / CHAIN_FILE).read_text()
    add_second_type_version(calc_sample)
    run = start_run(calc_sample)
    wait_wired(run)
    load = Load(f"{run.pod('plus')['address']}:8080", CLIENTS).start()
    try:
        wait_until(lambda: len(load.sent) >= 20, "the load to flow")
        edits = [edit_chain(run, calc_sample, full, chain) for chain in rounds_of_edits(ROUNDS)]
        wait_until(lambda: load.sent[-1].sent > edits[-1].completed, "requests on the last chain")
    finally:
        load.stop()
    results = [e for e in run.events("rcv") if e.get("event") == "result"]
    assert len(edits) == 20
    # multiply's type was replaced in every round: to version 2.0.0 twice and back twice
    assert sum(any("@" in k for k in e.chain) for e in edits) == 2
    assert len(load.sent) > 100
    problems = check(load.sent, results, BASE, edits)
    assert problems == [], "\n".join(problems[:40])
