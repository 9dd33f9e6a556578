"""The core makes no cyclic garbage: what a batch or an event discards is freed by reference
counting alone. ``kasugai.collector.freeze_loaded`` relies on it (a frozen object is never looked
at by the cyclic collector again), and so does pausing the collector around a batch."""

from __future__ import annotations

import copy
import gc
import weakref
from collections.abc import Iterator

import pytest
from core_helpers import CALC, P1C1, ApiServerStandIn, bodies, find, observed

from kasugai.collector import freeze_loaded
from kasugai.core.diff import diff
from kasugai.core.engine import Engine
from kasugai.core.events import Forgotten, Observed
from kasugai.core.ownership import owned_objects


@pytest.fixture
def collector_off() -> Iterator[None]:
    """Collector off, nothing collectable left from before: ``gc.collect()`` then counts only
    what the test made."""
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    yield
    if enabled:
        gc.enable()


def converge(engine: Engine, server: ApiServerStandIn) -> None:
    """Write every plan to the stand-in server and observe the result, as the controller does."""
    for _ in range(5):
        events = []
        for plan in engine.plans():
            actual = owned_objects(engine.world, plan.key, plan.objects)
            events += server.apply(diff(plan.objects, actual))
        if not events:
            return
        engine.apply_all(events)
    raise AssertionError("the plans did not settle")


def test_a_batch_and_single_events_leave_no_cycles(collector_off: None) -> None:
    inputs = bodies(CALC, P1C1)
    engine = Engine()
    server = ApiServerStandIn()
    changes = engine.apply_all(observed(inputs))
    assert changes.transitions, "the lifecycle machines moved nothing: the test tests nothing"
    converge(engine, server)
    # A function's address changes, one event at a time (connections rewire), then a DataFlow
    # goes (its machine moves to its final state and its models are dropped).
    service = copy.deepcopy(
        next(
            body
            for key, body in server.objects.items()
            if key.kind == "Service" and "minus" in key.name
        )
    )
    service["spec"]["clusterIP"] = "10.96.200.1"
    assert engine.apply(Observed.of(service)).plans, "the event changed no plan"
    dataflow = find(inputs, "DataFlow", "df-calcapp")
    deleted = engine.apply(Forgotten("DataFlow", dataflow["metadata"]["namespace"], "df-calcapp"))
    assert deleted.removed
    assert gc.collect() == 0


def test_the_check_sees_a_cycle(collector_off: None) -> None:
    """The assertion above can fail: one cycle made here is found."""
    first: list[object] = []
    second: list[object] = [first]
    first.append(second)
    del first, second
    assert gc.collect() > 0


class Node:
    """A weakly referenceable object that can be put in a cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


def test_freezing_the_load_collects_garbage_first_and_freezes_the_rest(
    collector_off: None,
) -> None:
    first, second = Node(), Node()
    first.other, second.other = second, first
    garbage = weakref.ref(first)
    del first, second
    kept = Engine()
    kept.apply_all(observed(bodies(CALC)))
    try:
        freeze_loaded()
        assert garbage() is None, "a cycle that was garbage was frozen instead of collected"
        assert gc.get_freeze_count() > 0
        # Frozen: in no generation the collector walks (get_objects lists only those).
        assert not any(found is kept for found in gc.get_objects())
    finally:
        gc.unfreeze()
