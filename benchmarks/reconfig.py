"""Reconfiguration through the local runtime: start-up time and chain-edit latency.

    .venv/bin/python benchmarks/reconfig.py [--edits 50] [--starts 3]

1. From starting ``kasugai up`` on the 7-function calc sample to the DataFlow being Deployed (as
   the core reports it) and to every function having loaded its next hop.
2. Chain edits: the FunctionChain file alternates between ... -> minus -> multiply -> ... and
   ... -> multiply -> minus -> ..., which changes the next hop of plus, minus and multiply and
   keeps every Pod. Latency = from the file's replacement to the last of the three functions
   logging ``load config`` with its new next hop (the functions' own log timestamps). p50 and
   p99 over the edits, with where the time goes: the runtime's input watch, planning and the
   ConfigMap write, the sidecar's file watch, rendering and SIGHUP, the function's reload.
Targets: p50 < 100 ms, p99 < 300 ms. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from figures import percentile

from kasugai.adapters.local.testing import LocalRun, read_events, wait_until
from kasugai.atomic_files import write_atomically
from kasugai.commands.demo import SAMPLE
from kasugai.commands.demo_chain import CHAIN_FILE, ChainProbe, connected_in_order, event_time

ORDER_A = ["send", "plus", "minus", "multiply", "divide", "average", "rcv"]
ORDER_B = ["send", "plus", "multiply", "minus", "divide", "average", "rcv"]
AFFECTED = ("plus", "minus", "multiply")


def _chain(template: dict[str, Any], order: list[str]) -> str:
    template["spec"]["connections"] = connected_in_order(order)
    return yaml.safe_dump(template, sort_keys=False)


def _first_after(events: list[dict[str, Any]], name: str, since: float, **fields: Any) -> float:
    for event in events:
        if (
            event.get("event") == name
            and event_time(event) >= since
            and all(event.get(k) == v for k, v in fields.items())
        ):
            return event_time(event)
    return 0.0


def measure_start(workdir: Path, index: int) -> tuple[float, float]:
    sample = Path(shutil.copytree(SAMPLE, workdir / f"start{index}"))
    run = LocalRun(sample, workdir / f"start-state{index}", workdir / f"start{index}.log")
    started = time.monotonic()
    try:
        run.start()
        probe = ChainProbe(run.state)
        wait_until(lambda: run.dataflow_status("df-calcapp").get("status") == "Deployed", "up")
        deployed = time.monotonic() - started
        wait_until(probe.wired, "wired")
        return deployed, time.monotonic() - started
    finally:
        run.close()


def measure_edits(workdir: Path, edits: int) -> list[dict[str, float]]:
    sample = Path(shutil.copytree(SAMPLE, workdir / "edits"))
    template = yaml.safe_load((sample / CHAIN_FILE).read_text())
    run = LocalRun(sample, workdir / "edits-state", workdir / "edits.log").start()
    samples = []
    try:
        wait_until(ChainProbe(run.state).wired, "wired")
        address = {f: run.pod(f)["address"] for f in ORDER_A}
        for index in range(edits):
            order = ORDER_B if index % 2 == 0 else ORDER_A
            following = dict(itertools.pairwise(order))
            text = _chain(template, order)
            time.sleep(0.3)  # let the previous edit's last signals settle
            edited = time.time()
            write_atomically(sample / CHAIN_FILE, text)

            def reloaded(since: float = edited, nexts: dict[str, str] = following) -> list[float]:
                times = [
                    _first_after(
                        run.events(f),
                        "load config",
                        since,
                        next={"host": address[nexts[f]], "port": 8080},
                    )
                    for f in AFFECTED
                ]
                return times if all(times) else []

            times = wait_until(reloaded, f"edit {index} to be applied", timeout=60)
            last = AFFECTED[times.index(max(times))]
            runtime = read_events(run.output)
            sidecar = run.events(last, container=1)
            samples.append(
                {
                    "total": max(times) - edited,
                    "watch": _first_after(runtime, "inputs changed", edited) - edited,
                    "written": _first_after(runtime, "connection config written", edited) - edited,
                    "sidecar": _first_after(sidecar, "config accepted", edited) - edited,
                    "sighup": _first_after(sidecar, "sighup sent", edited) - edited,
                }
            )
    finally:
        run.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kasugai-reconfig-") as temporary:
        workdir = Path(temporary)
        print(f"up -> Deployed / every function loaded its next hop ({args.starts} runs):")
        for index in range(args.starts):
            deployed, wired = measure_start(workdir, index)
            print(f"  run {index + 1}: Deployed {deployed:.2f} s, wired {wired:.2f} s")
        samples = measure_edits(workdir, args.edits)
    totals = [s["total"] * 1000 for s in samples]
    print(f"chain edit -> plus, minus, multiply reloaded ({len(samples)} edits):")
    print(
        f"  p50 {percentile(totals, 0.5):.1f} ms, p99 {percentile(totals, 0.99):.1f} ms, "
        f"max {max(totals):.1f} ms (targets: p50 < 100 ms, p99 < 300 ms)"
    )
    print("  where the time goes, median ms after the edit (for the function that reloaded last):")
    for stage, label in (
        ("watch", "runtime saw the edit (watchfiles)"),
        ("written", "ConfigMap file written (reload + plan + diff)"),
        ("sidecar", "sidecar read the file (watchfiles)"),
        ("sighup", "sidecar rendered and sent SIGHUP"),
        ("total", "function logged load config"),
    ):
        print(f"    {statistics.median(s[stage] for s in samples) * 1000:7.1f}  {label}")


if __name__ == "__main__":
    main()
