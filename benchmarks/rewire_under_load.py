"""Topology edits of the running calc chain under continuous load, with ``kasugai up``.

At each concurrency (clients on persistent gRPC connections into ``plus``), runs the calc
sample, lets the load flow, then makes ``--rounds`` rounds of five edits (remove divide, insert
it again, swap minus and multiply, swap them back, replace multiply's type by its other
version), each waited for until complete (the DataFlow
Deployed and Rewired, no Pod left but the chain's). Prints requests, NG, errors, answers not of a
chain in force, and how long the edits took to complete.

    .venv/bin/python benchmarks/rewire_under_load.py [--clients 4 32] [--rounds 4]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "component" / "local"))

from local_calc import wait_wired  # noqa: E402
from local_samples import copy_calc  # noqa: E402

from kasugai.adapters.local.testing import LocalRun, wait_until  # noqa: E402
from kasugai.commands.demo_chain import CHAIN_FILE  # noqa: E402
from kasugai.testing.rewire_load import (  # noqa: E402
    BASE,
    Load,
    add_second_type_version,
    check,
    edit_chain,
    rounds_of_edits,
)


def measure(clients: int, rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="kasugai-rewire-"))
    try:
        sample = copy_calc(work / "sample")
        full = (sample / CHAIN_FILE).read_text()
        add_second_type_version(sample)
        with LocalRun(sample, work / "state", work / "up.log") as run:
            wait_wired(run)
            load = Load(f"{run.pod('plus')['address']}:8080", clients).start()
            try:
                wait_until(lambda: len(load.sent) >= clients, "the load to flow")
                began = time.time()
                edits = [edit_chain(run, sample, full, c) for c in rounds_of_edits(rounds)]
                wait_until(lambda: load.sent[-1].sent > edits[-1].completed, "the last chain")
                ended = time.time()
            finally:
                load.stop()
            results = [e for e in run.events("rcv") if e.get("event") == "result"]
            sent = list(load.sent)
            problems = check(sent, results, BASE, edits)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ng = sum(s.status == "NG" for s in sent)
    errors = sum(s.status == "ERROR" for s in sent)
    wrong = len(problems) - ng - errors
    during = [s for s in sent if began <= s.sent <= ended]
    seconds = sorted(e.seconds for e in edits)
    print(
        f"concurrency {clients:>2}: {len(sent)} requests ({len(during) / (ended - began):.0f}/s "
        f"during the edits), NG {ng}, errors {errors}, answers not of a chain in force {wrong}; "
        f"{len(edits)} edits complete in median {statistics.median(seconds) * 1000:.0f} ms, "
        f"max {seconds[-1] * 1000:.0f} ms"
    )
    for edit in edits[:4]:
        print(f"    {' -> '.join(edit.chain):45} {edit.seconds * 1000:6.0f} ms")
    for problem in problems[:5]:
        print(f"    {problem}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[4, 32])
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    for clients in args.clients:
        measure(clients, args.rounds)


if __name__ == "__main__":
    main()
