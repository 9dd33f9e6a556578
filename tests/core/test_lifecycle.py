"""Lifecycle decisions: the DataFlow and connection machines, Stale connections keeping the last
published address, and a DataFlow in Error keeping its running objects."""

from __future__ import annotations

import copy
from typing import Any

from core_helpers import CALC, FACTS, ApiServerStandIn, bodies, converge, find, observed

from kasugai.core.diff import diff
from kasugai.core.engine import Engine
from kasugai.core.events import Forgotten, ObjectKey, Observed, Transitioned
from kasugai.core.lifecycle import (
    CONNECTION_MACHINE,
    DATAFLOW_MACHINE,
    ConnectionLifecycle,
    DataFlowLifecycle,
    allowed_moves,
)

NS = "cpufunc-calcapp"
DF = ObjectKey("DataFlow", NS, "df-calcapp")


def dataflow_moves(
    transitions: tuple[Transitioned, ...] | list[Transitioned],
) -> list[tuple[Any, ...]]:
    return [(t.from_state, t.to_state, t.reason) for t in transitions if t.machine == "DataFlow"]


def deployed() -> tuple[Engine, ApiServerStandIn]:
    engine = Engine()
    engine.apply_all(observed(bodies(CALC)))
    server = ApiServerStandIn()
    converge(engine, server)
    return engine, server


def test_one_event_at_a_time_from_nothing_to_deployed() -> None:
    engine = Engine()
    decisions: list[Transitioned] = []
    items = bodies(CALC)
    # The DataFlow first: it waits; then everything else in file order.
    order = [i for i in items if i["kind"] == "DataFlow"] + [
        i for i in items if i["kind"] != "DataFlow"
    ]
    for event in observed(order):
        decisions += engine.apply(event).transitions
    assert dataflow_moves(decisions) == [
        (None, "Pending", "InputsMissing"),
        ("Pending", "Deploying", "Resolved"),
    ]
    plan = engine.plan_of(DF)
    assert plan is not None
    assert plan.status["status"] == "Deploying"
    connection_moves = [
        (t.subject, t.to_state, t.reason) for t in decisions if t.machine == "Connection"
    ]
    assert connection_moves[0] == ("send:0->plus:0", "Waiting", "AwaitingAddress")
    for event in observed(bodies(FACTS / "calc-basic")):
        decisions += engine.apply(event).transitions
    assert dataflow_moves(decisions)[-1] == ("Deploying", "Deployed", "AllReady")
    published = [t for t in decisions if t.machine == "Connection" and t.to_state == "Published"]
    assert len(published) == 6
    assert published[0].message == "-> 10.96.101.11:8080/TCP"


def test_a_lost_address_keeps_the_published_config_and_degrades() -> None:
    engine, server = deployed()
    service = ObjectKey("Service", NS, "df-calcapp-wbfunction-minus-service")
    configmap = ObjectKey("ConfigMap", NS, "ethcrl.df-calcapp-wbfunction-plus-cpu-pod")
    published = server.objects[configmap]["data"]["config"]
    del server.objects[service]
    changes = engine.apply(Forgotten("Service", NS, service.name))
    plan = engine.plan_of(DF)
    assert plan is not None and plan.state == "Degraded"
    stale = [c for c in plan.connections if c.state == "Stale"]
    assert [c.subject for c in stale] == ["plus:0->minus:0"]
    assert stale[0].reason == (
        f"Service {service.name} not observed yet; keeping the last published address"
    )
    assert find(engine.desired(), "ConfigMap", configmap.name)["data"]["config"] == published
    assert dataflow_moves(changes.transitions) == [("Deployed", "Degraded", "FunctionFailed")]
    # The only write: re-creating the Service. The ConfigMap is not touched.
    assert [(a.verb, a.key) for a in diff(engine.desired(), server.objects.values())] == [
        ("create", service)
    ]
    converge(engine, server)
    assert engine.state_of(DF) == "Deployed"
    assert server.objects[configmap]["data"]["config"] != published  # the new clusterIP


def test_a_failed_pod_degrades_the_dataflow() -> None:
    engine, server = deployed()
    pod = copy.deepcopy(server.objects[ObjectKey("Pod", NS, "df-calcapp-wbfunction-rcv-cpu-pod")])
    pod["status"]["phase"] = "Failed"
    changes = engine.apply(Observed.of(pod))
    assert dataflow_moves(changes.transitions) == [("Deployed", "Degraded", "FunctionFailed")]
    plan = engine.plan_of(DF)
    assert plan is not None
    assert "Pod df-calcapp-wbfunction-rcv-cpu-pod is Failed" in plan.message


def test_an_invalid_edit_keeps_running_objects_untouched() -> None:
    engine, server = deployed()
    chain = find(bodies(CALC), "FunctionChain", "calcapp-chain")
    chain["spec"]["connections"][1]["to"]["functionKey"] = "nope"
    changes = engine.apply(Observed.of(chain))
    assert dataflow_moves(changes.transitions) == [("Deployed", "Error", "InvalidInput")]
    assert diff(engine.desired(), server.objects.values()) == []
    plan = engine.plan_of(DF)
    assert plan is not None and plan.status["status"] == "Error"
    assert plan.status["conditions"][1]["reason"] == "InvalidSpec"
    # Fixing it resumes from there.
    changes = engine.apply(Observed.of(find(bodies(CALC), "FunctionChain", "calcapp-chain")))
    assert dataflow_moves(changes.transitions) == [("Error", "Deployed", "AllReady")]


def test_deletion_terminates_and_terminating_is_final() -> None:
    engine, server = deployed()
    dataflow = copy.deepcopy(find(bodies(CALC), "DataFlow", "df-calcapp"))
    dataflow["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    changes = engine.apply(Observed.of(dataflow))
    assert dataflow_moves(changes.transitions) == [("Deployed", "Terminating", "Deleted")]
    assert engine.desired() == []
    actions = diff(engine.desired(), server.objects.values())
    # 7 functions: a ServiceAccount, Role, RoleBinding, Pod, Service and ConfigMap each.
    assert {a.verb for a in actions} == {"delete"} and len(actions) == len(server.objects) == 42
    del dataflow["metadata"]["deletionTimestamp"]
    assert dataflow_moves(engine.apply(Observed.of(dataflow)).transitions) == []
    assert engine.state_of(DF) == "Terminating"
    changes = engine.apply(Forgotten("DataFlow", NS, "df-calcapp"))
    assert changes.removed == {DF}
    assert engine.plan_of(DF) is None


def test_the_dataflow_machine_names_each_move_by_where_it_comes_from() -> None:
    model = DataFlowLifecycle(DF)
    assert model.state == "New"
    assert model.advance("Deployed", "all up") == [
        Transitioned(DF, "DataFlow", "", None, "Deployed", "AllReady", "all up")
    ]
    assert model.advance("Deployed", "still up") == []  # no move in place
    steps = [("Deploying", "Reconfiguring"), ("Degraded", "FunctionFailed")]
    steps += [("Deploying", "Recovering"), ("Error", "InvalidInput"), ("Deploying", "Resolved")]
    for verdict, trigger in steps:
        [decision] = model.advance(verdict, "why")
        assert (decision.to_state, decision.reason) == (verdict, trigger)
        assert model.state == verdict
    assert [d.reason for d in model.advance("Terminating", "being deleted")] == ["Deleted"]
    for verdict in ("Deploying", "Deployed", "Pending", "Error", "Degraded"):
        assert model.advance(verdict, "undeleted") == []  # Terminating is final
    assert model.state == "Terminating"


def test_a_published_connection_is_rewired_only_when_its_address_changes() -> None:
    model = ConnectionLifecycle(DF, "send:0->plus:0")
    [known] = model.advance("Published", "10.0.0.1:80/TCP", "-> 10.0.0.1:80/TCP")
    assert (known.from_state, known.to_state, known.reason) == (None, "Published", "AddressKnown")
    assert known.subject == "send:0->plus:0" and known.machine == "Connection"
    assert model.advance("Published", "10.0.0.1:80/TCP", "-> 10.0.0.1:80/TCP") == []
    [rewired] = model.advance("Published", "10.0.0.2:80/TCP", "-> 10.0.0.2:80/TCP")
    assert (rewired.from_state, rewired.reason) == ("Published", "Rewired")
    assert model.destination == "10.0.0.2:80/TCP"
    [lost] = model.advance("Stale", "", "Service gone")
    assert (lost.to_state, lost.reason, model.destination) == ("Stale", "AddressLost", "")
    assert model.advance("Stale", "", "Service still gone") == []


def test_the_allowed_moves_are_read_from_the_machines() -> None:
    dataflow = allowed_moves(DATAFLOW_MACHINE)
    assert ("Deployed", "Reconfiguring", "Deploying") in dataflow
    assert ("New", "Deleted", "Terminating") in dataflow
    assert not [move for move in dataflow if move[0] == "Terminating"]
    assert not [move for move in dataflow if move[0] == move[2]]
    assert ("Published", "Rewired", "Published") in allowed_moves(CONNECTION_MACHINE)
