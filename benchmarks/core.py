"""Benchmark of the pure core: N DataFlows of 7 functions through ``Engine.apply_all``, then one
event re-planned at that size, and the memory the engine holds.

Run by hand: ``.venv/bin/python benchmarks/core.py [N ...] [--rounds R]`` (default N: 1000
10000; R: 5). Every DataFlow has its own FunctionChain (the calc chain: send, plus, minus,
multiply, divide, average, rcv) sharing the sample FunctionTypes and config ConfigMaps, and full
facts (a Service with a clusterIP and a running Pod per function), so every plan is complete:
identities, 7 Pods, 7 Services, 7 ConfigMaps.

Each figure is measured in a process of its own (a fresh interpreter, so one figure's garbage
and frozen objects do not weigh on the next), R rounds, median reported:

* ``load``: ``Engine.apply_all`` of every event into an empty engine (fold, plan, statuses,
  lifecycle moves), wall and CPU seconds, once with the collector paused as the controller and
  ``kasugai up`` run it (``kasugai.collector``), once with the collector at its defaults.
* ``event``: after the load (collector paused, then ``freeze_loaded`` as the controller does),
  200 Service events (a function's clusterIP changes), each re-planning its one DataFlow; median,
  p99 and max of ``Engine.apply``, collector enabled.
* ``lifecycle``: the share of the ``transitions`` machines: every DataFlow and connection
  moved from ``New`` as the load moves them, timed alone.
* ``memory``: RSS of the process (``VmRSS`` after the load, ``VmHWM`` peak) holding the engine
  and the events it was fed, and, in another process, what tracemalloc counts the engine holds.

Targets (issue 13): N=1,000 loaded in <= 0.5 s, N=10,000 in <= 5 s and <= 600 MiB, one event at
10,000 re-planned in <= 2 ms median. The figures print with the machine's CPU count, Python
version and load average before and after: on a shared machine, wall time counts the waits for
a CPU too, and CPU time is the steadier figure.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from figures import memory_mib, percentile  # noqa: E402

from kasugai.adapters.files import load_objects  # noqa: E402
from kasugai.collector import collector_paused, freeze_loaded  # noqa: E402
from kasugai.core.engine import Engine  # noqa: E402
from kasugai.core.events import Observed  # noqa: E402
from kasugai.core.lifecycle import DataFlowLifecycle  # noqa: E402

CALC = REPO / "tests" / "fixtures" / "openkasugai" / "calc-func" / "basic"
NAMESPACE = "cpufunc-calcapp"
KEYS = ("send", "plus", "minus", "multiply", "divide", "average", "rcv")
EVENTS = 200
TARGETS = {"load_1000": 0.5, "load_10000": 5.0, "rss_10000": 600.0, "event_10000_ms": 2.0}


def _facts(index: int, dataflow: str) -> list[dict[str, Any]]:
    facts = []
    for position, key in enumerate(KEYS):
        instance = f"{dataflow}-wbfunction-{key}"
        labels = {"app.kubernetes.io/managed-by": "kasugai", "kasugai.io/dataflow": dataflow}
        # The DataFlow's own objects: labelled and controlled by it, or the plan is a Conflict.
        owner = [
            {
                "apiVersion": "example.com/v1",
                "kind": "DataFlow",
                "name": dataflow,
                "controller": True,
            }
        ]
        ip = f"10.{96 + index // 60000}.{(index // 250) % 240}.{index % 250}"
        facts.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": f"{instance}-service",
                    "namespace": NAMESPACE,
                    "labels": labels,
                    "ownerReferences": owner,
                },
                "spec": {
                    "type": "LoadBalancer" if position == 0 else "ClusterIP",
                    "clusterIP": ip,
                    "ports": [{"name": "tcp-8080", "port": 8080 + position, "protocol": "TCP"}],
                },
                "status": {"loadBalancer": {"ingress": [{"ip": "172.18.255.200"}]}},
            }
        )
        facts.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"{instance}-cpu-pod",
                    "namespace": NAMESPACE,
                    "labels": labels,
                    "ownerReferences": owner,
                },
                "status": {"phase": "Running"},
            }
        )
    return facts


def scenario(count: int) -> list[Observed]:
    """Events for ``count`` complete DataFlows of the calc chain."""
    shared = [item.body for item in load_objects([CALC])]
    chain = next(body for body in shared if body["kind"] == "FunctionChain")
    dataflow = next(body for body in shared if body["kind"] == "DataFlow")
    bodies = [body for body in shared if body["kind"] not in ("FunctionChain", "DataFlow")]
    for index in range(count):
        name = f"df-{index}"
        own_chain = copy.deepcopy(chain)
        own_chain["metadata"]["name"] = f"chain-{index}"
        own = copy.deepcopy(dataflow)
        own["metadata"]["name"] = name
        own["spec"]["functionChainRef"]["name"] = f"chain-{index}"
        bodies += [own_chain, own, *_facts(index, name)]
    return [Observed.of(body) for body in bodies]


def _timed(action: Any) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


# --- what one child process measures ---------------------------------------------------------


def _load(count: int, paused: bool) -> dict[str, Any]:
    events = scenario(count)
    engine = Engine()
    if paused:
        with collector_paused():
            wall, cpu = _timed(lambda: engine.apply_all(events))
    else:
        wall, cpu = _timed(lambda: engine.apply_all(events))
    plans = engine.plans()
    assert len(plans) == count and all(p.state == "Deployed" for p in plans), "incomplete plans"
    return {"wall": wall, "cpu": cpu, "desired": len(engine.desired()), **_rss()}


def _event(count: int) -> dict[str, Any]:
    engine = Engine()
    with collector_paused():
        engine.apply_all(scenario(count))
    freeze_loaded()
    key = f"df-{count // 2}-wbfunction-minus-service"
    service = next(s.body for k, s in engine.world if k.kind == "Service" and k.name == key)
    times: list[float] = []
    cpu_times: list[float] = []
    replanned: set[Any] = set()
    for attempt in range(EVENTS):
        body = copy.deepcopy(dict(service))
        body["spec"]["clusterIP"] = f"10.200.{attempt // 250}.{attempt % 250}"
        event = Observed.of(body)
        start, cpu = time.perf_counter(), time.process_time()
        changes = engine.apply(event)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu)
        replanned |= changes.replanned
        assert changes.plans, "the event changed no plan"
    return {
        "median_ms": statistics.median(times) * 1e3,
        "cpu_median_ms": statistics.median(cpu_times) * 1e3,
        "p99_ms": percentile(times, 0.99) * 1e3,
        "max_ms": max(times) * 1e3,
        "replanned": len(replanned),
    }


def _lifecycle(count: int) -> dict[str, Any]:
    """The lifecycle machines' share: every DataFlow and connection moved from ``New``."""
    engine = Engine()
    with collector_paused():
        engine.apply_all(scenario(count))
    plans = engine.plans()

    def move_all() -> None:
        for plan in plans:
            model = DataFlowLifecycle(plan.key)
            model.advance(plan.state, plan.message)
            for c in plan.connections:
                model.connection(c.subject).advance(c.state, c.destination, c.reason)

    with collector_paused():
        wall, cpu = _timed(move_all)
    moves = len(plans) + sum(len(plan.connections) for plan in plans)
    return {"wall": wall, "cpu": cpu, "moves": moves}


def _traced(count: int) -> dict[str, Any]:
    events = scenario(count)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    engine = Engine()
    with collector_paused():
        engine.apply_all(events)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"held_mib": (current - base) / 2**20, "peak_mib": (peak - base) / 2**20}


def _rss() -> dict[str, float]:
    found = memory_mib(os.getpid())
    return {"rss_mib": found["VmRSS"], "hwm_mib": found["VmHWM"]}


def _child(what: str, count: int) -> None:
    gc.collect()
    if what == "load-paused":
        result = _load(count, paused=True)
    elif what == "load-default":
        result = _load(count, paused=False)
    elif what == "event":
        result = _event(count)
    elif what == "lifecycle":
        result = _lifecycle(count)
    else:
        result = _traced(count)
    print(json.dumps(result))


# --- the parent: runs the children, prints the figures ---------------------------------------


def _run(what: str, count: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", what, str(count)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _median(rounds: list[dict[str, Any]], field: str) -> float:
    return float(statistics.median(r[field] for r in rounds))


def _verdict(value: float, target: float | None) -> str:
    if target is None:
        return ""
    return f"  [target <= {target:g}: {'met' if value <= target else 'NOT met'}]"


def _load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("counts", nargs="*", type=int, default=[1000, 10000])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", nargs=2, metavar=("WHAT", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child[0], int(args.child[1]))
        return
    print(
        f"core benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()} ({platform.machine()}), "
        f"load average before {_load_average()}; {args.rounds} rounds per figure, medians"
    )
    for count in args.counts:
        rounds = max(1, args.rounds if count <= 1000 else args.rounds // 2)
        paused = [_run("load-paused", count) for _ in range(rounds)]
        default = [_run("load-default", count) for _ in range(rounds)]
        wall = _median(paused, "wall")
        print(
            f"N={count:>6} load, collector paused (as the controller runs it): "
            f"{wall:6.3f} s wall, {_median(paused, 'cpu'):6.3f} s CPU "
            f"({_median(paused, 'desired'):.0f} desired objects)"
            + _verdict(wall, TARGETS.get(f"load_{count}"))
        )
        print(
            f"N={count:>6} load, collector at its defaults:                 "
            f"{_median(default, 'wall'):6.3f} s wall, {_median(default, 'cpu'):6.3f} s CPU"
        )
        rss = _median(paused, "rss_mib")
        print(
            f"N={count:>6} memory: RSS {rss:6.1f} MiB after the load "
            f"(peak {_median(paused, 'hwm_mib'):.1f} MiB; the process holds the events too)"
            + _verdict(rss, TARGETS.get(f"rss_{count}"))
        )
        moves = [_run("lifecycle", count) for _ in range(rounds)]
        print(
            f"N={count:>6} of which lifecycle machines ({moves[0]['moves']} moves from New): "
            f"{_median(moves, 'wall'):6.3f} s wall, {_median(moves, 'cpu'):6.3f} s CPU"
        )
        traced = _run("traced", count)
        print(
            f"N={count:>6} memory: tracemalloc counts {traced['held_mib']:.1f} MiB held by the "
            f"engine, {traced['peak_mib']:.1f} MiB peak while loading"
        )
        events = [_run("event", count) for _ in range(rounds)]
        median = _median(events, "median_ms")
        print(
            f"N={count:>6} one Service event re-plans {events[0]['replanned']} DataFlow: "
            f"median {median:.3f} ms wall ({_median(events, 'cpu_median_ms'):.3f} ms CPU), "
            f"p99 {_median(events, 'p99_ms'):.3f} ms, max {_median(events, 'max_ms'):.3f} ms "
            f"(medians over {rounds} runs of {EVENTS})"
            + _verdict(median, TARGETS.get(f"event_{count}_ms"))
        )
    print(f"load average after {_load_average()} (a shared machine: other work ran meanwhile)")


if __name__ == "__main__":
    main(sys.argv[1:])
