"""The laws of the core (docs/architecture.md), as hypothesis properties over generated chains."""

from __future__ import annotations

from typing import Any

from core_helpers import CALC, ApiServerStandIn, bodies, converge, observed
from core_strategies import Scenario, corrupted, scenarios
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kasugai.core.diff import diff, object_key
from kasugai.core.engine import Engine
from kasugai.core.events import Forgotten
from kasugai.core.lifecycle import DATAFLOW_STATES
from kasugai.core.plan import plan_dataflow
from kasugai.core.world import World, fold_all

LAWS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def deployed(scenario: Scenario) -> tuple[Engine, ApiServerStandIn]:
    engine = Engine()
    engine.apply_all(observed(scenario.bodies()))
    server = ApiServerStandIn()
    converge(engine, server)
    return engine, server


@LAWS
@given(st.data())
def test_any_order_folds_to_the_same_world_and_the_same_plan(data: st.DataObject) -> None:
    scenario = data.draw(scenarios())
    events = observed(scenario.bodies())
    shuffled = data.draw(st.permutations(events))
    world = fold_all(World(), events)
    one_by_one = World()
    for event in shuffled:
        one_by_one = fold_all(one_by_one, [event])
    assert one_by_one == world
    for key in scenario.dataflows:
        assert plan_dataflow(one_by_one, key) == plan_dataflow(world, key)


@LAWS
@given(scenarios())
def test_applying_the_plan_and_observing_it_leaves_nothing_to_do(scenario: Scenario) -> None:
    engine, server = deployed(scenario)
    for key in scenario.dataflows:
        plan = engine.plan_of(key)
        assert plan is not None and plan.state == "Deployed", plan and plan.message
    assert diff(engine.desired(), server.objects.values()) == []
    # A fresh engine that only sees the cluster as it is now wants exactly the same.
    fresh = Engine()
    fresh.apply_all(observed([*scenario.bodies(), *server.objects.values()]))
    assert diff(fresh.desired(), server.objects.values()) == []


@LAWS
@given(scenarios())
def test_every_created_object_is_owned_by_its_dataflow(scenario: Scenario) -> None:
    engine, server = deployed(scenario)
    for key in scenario.dataflows:
        plan = engine.plan_of(key)
        assert plan is not None
        for obj in plan.objects:
            meta = obj["metadata"]
            assert meta["namespace"] == key.namespace
            (owner,) = meta["ownerReferences"]
            assert (owner["kind"], owner["name"], owner["controller"]) == (
                "DataFlow",
                key.name,
                True,
            )
            assert meta["labels"]["app.kubernetes.io/managed-by"] == "kasugai"
            assert meta["labels"]["kasugai.io/dataflow"] == key.name
    assert len(server.objects) == len(engine.desired())


@LAWS
@given(scenarios())
def test_deleting_a_dataflow_leaves_no_inventory_object_behind(scenario: Scenario) -> None:
    engine, server = deployed(scenario)
    gone, *kept = scenario.dataflows
    engine.apply(Forgotten(gone.kind, gone.namespace, gone.name))
    converge(engine, server)

    def owners(objects: Any) -> set[str]:
        return {o["metadata"]["labels"]["kasugai.io/dataflow"] for o in objects}

    assert owners(server.objects.values()) == {k.name for k in kept}
    assert len(server.objects) == len(engine.desired())


@LAWS
@given(st.data())
def test_invalid_input_yields_a_condition_never_an_exception(data: st.DataObject) -> None:
    scenario = data.draw(scenarios())
    engine = Engine()
    engine.apply_all(observed(data.draw(corrupted(scenario))))
    for key in scenario.dataflows:
        plan = engine.plan_of(key)
        assert plan is not None
        assert plan.state in DATAFLOW_STATES
        if plan.state in ("Error", "Pending"):
            resolved = next(c for c in plan.status["conditions"] if c["type"] == "Resolved")
            assert resolved["status"] == "False" and resolved["message"]
    for status in engine.status_objects()[len(scenario.dataflows) :]:
        assert status["status"]["status"] in ("Ready", "Error")
        assert status["status"]["status"] == "Ready" or status["status"]["message"]


_PIECES = ("x", "y", "z", "wbfunction", "x-wbfunction", "y-wbfunction-z", "wbfunction-z")


@LAWS
@given(st.lists(st.tuples(st.sampled_from(_PIECES), st.sampled_from(_PIECES)), min_size=2))
def test_no_two_dataflows_or_keys_ever_name_the_same_object(pairs: list[Any]) -> None:
    """Object names join a DataFlow's name and a function key with -wbfunction-; whatever the
    names and keys, no object is desired twice, and a key that could be ambiguous is an Error."""
    inputs = bodies(CALC)
    template = next(o for o in inputs if o["kind"] == "FunctionChain")
    types = [o for o in inputs if o["kind"] not in ("FunctionChain", "DataFlow")]
    namespace = template["metadata"]["namespace"]
    flows = []
    for index, (name, key) in enumerate(dict.fromkeys(pairs)):
        if any(name == other for other, _ in flows):
            continue
        spec = {
            **template["spec"],
            "functions": {key: template["spec"]["functions"]["rcv"]},
            "connections": [
                {"from": {"functionKey": "wb-start-of-chain"}, "to": {"functionKey": key}},
                {"from": {"functionKey": key}, "to": {"functionKey": "wb-end-of-chain"}},
            ],
        }
        chain = {**template, "metadata": {"name": f"chain-{index}", "namespace": namespace}}
        flow = {
            "apiVersion": "example.com/v1",
            "kind": "DataFlow",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"functionChainRef": {"name": f"chain-{index}"}},
        }
        types += [{**chain, "spec": spec}, flow]
        flows.append((name, key))
    engine = Engine()
    engine.apply_all(observed(types))
    keys = [object_key(obj) for obj in engine.desired()]
    assert len(keys) == len(set(keys))
    for plan in engine.plans():
        key = next(k for n, k in flows if n == plan.key.name)
        assert (plan.state == "Error") == ("wbfunction" in key), plan.message
