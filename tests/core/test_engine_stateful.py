"""Stateful test of the incremental engine: whatever happens (inputs edited, broken, deleted and
restored; the cluster syncing, losing objects, Pods failing, addresses changing), the engine's
incrementally maintained world, plans and statuses equal those computed from scratch; every
lifecycle move the engine reports is one its machine has (read from the machine itself); and each
DataFlow's machine stands where its plan says, unless it is in the final state."""

from __future__ import annotations

import copy
from typing import Any

from core_helpers import ApiServerStandIn, observed
from core_strategies import Scenario, corrupted, scenarios
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from kasugai.core.diff import diff, object_key
from kasugai.core.engine import Engine
from kasugai.core.events import Event, Forgotten, ObjectKey, Observed, Transitioned
from kasugai.core.lifecycle import CONNECTION_MACHINE, DATAFLOW_MACHINE, allowed_moves
from kasugai.core.plan import plan_dataflow, plan_status
from kasugai.core.world import World, fold_all

ALLOWED = {
    "DataFlow": allowed_moves(DATAFLOW_MACHINE),
    "Connection": allowed_moves(CONNECTION_MACHINE),
}


def check_allowed(decisions: tuple[Transitioned, ...]) -> None:
    for decision in decisions:
        move = (decision.from_state or "New", decision.reason, decision.to_state)
        assert move in ALLOWED[decision.machine], f"not a move of the machine: {decision}"


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = Engine()
        self.server = ApiServerStandIn()
        self.log: list[Event] = []
        self.originals: dict[ObjectKey, dict[str, Any]] = {}
        self.scenario: Scenario | None = None

    def feed(self, events: list[Event], one_by_one: bool) -> None:
        self.log += events
        if one_by_one:
            for event in events:
                check_allowed(self.engine.apply(event).transitions)
        else:
            check_allowed(self.engine.apply_all(events).transitions)

    @initialize(scenario=scenarios(), one_by_one=st.booleans())
    def load(self, scenario: Scenario, one_by_one: bool) -> None:
        self.scenario = scenario
        self.originals = {object_key(body): body for body in scenario.bodies()}
        self.feed(observed(scenario.bodies()), one_by_one)

    @rule(one_by_one=st.booleans())
    def sync_the_cluster(self, one_by_one: bool) -> None:
        actions = diff(self.engine.desired(), self.server.objects.values())
        self.feed(self.server.apply(actions), one_by_one)

    @rule(data=st.data())
    def forget_an_input(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.originals)))
        self.feed([Forgotten(key.kind, key.namespace, key.name)], True)

    @rule(data=st.data())
    def restore_an_input(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.originals)))
        self.feed([Observed.of(copy.deepcopy(self.originals[key]))], True)

    @rule(data=st.data())
    def break_an_input(self, data: st.DataObject) -> None:
        assert self.scenario is not None
        items = data.draw(corrupted(self.scenario))
        changed = [item for item in items if item != self.originals.get(object_key(item))]
        self.feed(observed(changed), True)

    @precondition(lambda self: bool(self.server.objects))
    @rule(data=st.data(), change=st.sampled_from(("delete", "fail", "readdress")))
    def the_cluster_changes(self, data: st.DataObject, change: str) -> None:
        key = data.draw(st.sampled_from(sorted(self.server.objects)))
        if change == "delete":
            del self.server.objects[key]
            self.feed([Forgotten(key.kind, key.namespace, key.name)], True)
            return
        body = self.server.objects[key]
        if key.kind == "Pod" and change == "fail":
            body["status"]["phase"] = "Failed"
        elif key.kind == "Service":
            body["spec"]["clusterIP"] = f"10.99.{data.draw(st.integers(0, 255))}.1"
            if body["status"]["loadBalancer"]:
                body["status"]["loadBalancer"]["ingress"] = []
        self.feed([Observed.of(copy.deepcopy(body))], True)

    @invariant()
    def incremental_equals_from_scratch(self) -> None:
        world = fold_all(World(), self.log)
        assert self.engine.world == world
        dataflows = world.keys("DataFlow")
        assert [p.key for p in self.engine.plans()] == dataflows
        for key in dataflows:
            assert self.engine.plan_of(key) == plan_dataflow(world, key, self.engine.options)
        for kind in ("FunctionChain", "FunctionType"):
            for key in world.keys(kind):
                assert self.engine.status_of(key) == plan_status(world, key)
        reported = [(o["kind"], o["metadata"]["name"]) for o in self.engine.status_objects()]
        expected = [
            (k.kind, k.name)
            for kind in ("DataFlow", "FunctionChain", "FunctionType")
            for k in world.keys(kind)
        ]
        assert reported == expected

    @invariant()
    def each_dataflow_stands_where_its_plan_says(self) -> None:
        for plan in self.engine.plans():
            state = self.engine.state_of(plan.key)
            assert state == plan.state or state == "Terminating", (plan.key, state, plan.state)


EngineMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestEngine = EngineMachine.TestCase
