"""Benchmark of the pure core: plan N DataFlows of 7 functions, then re-plan after one event.

Run by hand: ``.venv/bin/python benchmarks/core.py [N ...]`` (default 100 1000 10000). Every
DataFlow has its own FunctionChain (the calc chain: send, plus, minus, multiply, divide, average,
rcv) sharing the sample FunctionTypes and config ConfigMaps, and full facts (a Service with a
clusterIP and a running Pod per function), so every plan is complete: 7 Pods, 7 Services,
7 ConfigMaps. Targets: N=1,000 planned in under 1 s; one Service event re-planned in
under 5 ms. The lifecycle machines' share (every DataFlow and connection moved from ``New`` by
its ``transitions`` model) is timed on its own. Memory is measured in a second run under
tracemalloc.
"""

from __future__ import annotations

import copy
import gc
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from kasugai.adapters.files import load_objects
from kasugai.collector import collector_paused
from kasugai.core.engine import Engine
from kasugai.core.events import Observed
from kasugai.core.lifecycle import DataFlowLifecycle
from kasugai.core.plan import plan_dataflow
from kasugai.core.world import World, fold_all

REPO = Path(__file__).resolve().parent.parent
CALC = REPO / "tests" / "fixtures" / "openkasugai" / "calc-func" / "basic"
NAMESPACE = "cpufunc-calcapp"
KEYS = ("send", "plus", "minus", "multiply", "divide", "average", "rcv")


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
    """(wall seconds, CPU seconds of this process): CPU time is steadier on a busy machine."""
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


def from_scratch(count: int) -> None:
    events = scenario(count)
    fold_wall, _ = _timed(lambda: fold_all(World(), events))
    world = fold_all(World(), events)
    keys = world.keys("DataFlow")
    plans: list[Any] = []
    plan_wall, plan_cpu = _timed(lambda: plans.extend(plan_dataflow(world, key) for key in keys))
    assert all(p is not None and p.state == "Deployed" for p in plans), "incomplete plans"
    plans.clear()
    world = fold_all(World(), events)  # a fresh world: no memoized chain checks
    gc.disable()  # how much of it is the cyclic garbage collector walking the world
    nogc_wall, _ = _timed(lambda: plans.extend(plan_dataflow(world, key) for key in keys))
    gc.enable()
    plans.clear()
    engine = Engine()
    engine_wall, engine_cpu = _timed(lambda: engine.apply_all(events))
    paused = Engine()
    with collector_paused():  # as the controller and `kasugai up` fold a batch
        paused_wall, paused_cpu = _timed(lambda: paused.apply_all(events))
    print(
        f"N={count:>6}: plan {plan_wall:6.3f} s wall, {plan_cpu:6.3f} s CPU "
        f"({plan_wall / count * 1e3:.3f} ms/DataFlow; {nogc_wall:6.3f} s with gc off) | "
        f"fold {fold_wall:6.3f} s | Engine.apply_all (fold+plan+statuses) {engine_wall:6.3f} s "
        f"wall, {engine_cpu:6.3f} s CPU | "
        f"{len(engine.desired())} desired objects"
    )
    print(
        f"N={count:>6}: Engine.apply_all with the collector paused (as the controller runs it) "
        f"{paused_wall:6.3f} s wall, {paused_cpu:6.3f} s CPU"
    )


def single_event(count: int, repeats: int = 50) -> None:
    engine = Engine()
    engine.apply_all(scenario(count))
    service = next(
        stored.body
        for key, stored in engine.world
        if key.kind == "Service" and key.name == f"df-{count // 2}-wbfunction-minus-service"
    )
    times, replanned = [], set()
    for attempt in range(repeats):
        body = copy.deepcopy(dict(service))
        body["spec"]["clusterIP"] = f"10.200.{attempt // 250}.{attempt % 250}"
        event = Observed.of(body)
        start = time.perf_counter()
        changes = engine.apply(event)
        times.append(time.perf_counter() - start)
        replanned |= changes.replanned
        assert changes.plans, "the event changed no plan"
    print(
        f"N={count:>6}: one Service event re-plans {len(replanned)} DataFlow(s): "
        f"median {statistics.median(times) * 1e3:.3f} ms, max {max(times) * 1e3:.3f} ms "
        f"over {repeats} events"
    )


def lifecycle_moves(count: int, repeats: int = 5) -> None:
    engine = Engine()
    engine.apply_all(scenario(count))
    plans = engine.plans()

    def move_all() -> int:
        moves = 0
        for plan in plans:
            model = DataFlowLifecycle(plan.key)
            moves += len(model.advance(plan.state, plan.message))
            for c in plan.connections:
                moves += len(model.connection(c.subject).advance(c.state, c.destination, c.reason))
        return moves

    cpu = min(_timed(move_all)[1] for _ in range(repeats))
    print(
        f"N={count:>6}: {move_all()} lifecycle moves (DataFlows and connections from New): "
        f"{cpu:.3f} s CPU (best of {repeats}), {cpu / count * 1e3:.3f} ms/DataFlow"
    )


def memory(count: int) -> None:
    events = scenario(count)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    engine = Engine()
    engine.apply_all(events)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    held = current - base
    print(
        f"N={count:>6}: engine holds {held / 2**20:.1f} MiB ({held / count / 1024:.1f} KiB per "
        f"DataFlow incl. its inputs and facts), peak while loading {(peak - base) / 2**20:.1f} MiB"
    )


def main(argv: list[str]) -> None:
    counts = [int(arg) for arg in argv] or [100, 1000, 10000]
    print("== plan from scratch")
    for count in counts:
        from_scratch(count)
    print("== re-plan after a single Service event")
    single_event(1000 if 1000 in counts or not counts else counts[0])
    print("== lifecycle machines alone")
    for count in counts:
        lifecycle_moves(count)
    print("== memory (tracemalloc)")
    for count in counts:
        memory(count)


if __name__ == "__main__":
    main(sys.argv[1:])
