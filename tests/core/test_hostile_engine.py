"""The core fed hostile bodies: every one becomes an Invalid value or an error status, never an
exception, and no status quotes a value (the marker of kasugai.testing.hostile never shows)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from core_helpers import CALC, bodies, find, observed

from kasugai.core import bounded, faults
from kasugai.core.convert import Invalid
from kasugai.core.engine import Engine
from kasugai.core.events import ObjectKey, Observed
from kasugai.core.model import DataFlowObject, PodFacts
from kasugai.core.parse import parse_body
from kasugai.testing.hostile import (
    JSON_TEXTS,
    MARKER,
    YAML_TEXTS,
    configmap,
    pod_with_network_status,
)

DF = ObjectKey("DataFlow", "cpufunc-calcapp", "df-calcapp")


def everything_said(engine: Engine) -> str:
    """Every plan, desired object and status the engine would write, as one text."""
    return json.dumps(
        [engine.desired(), engine.status_objects(), [p.message for p in engine.plans()]]
    )


def dataflow_state(engine: Engine) -> tuple[str, str]:
    plan = engine.plan_of(DF)
    assert plan is not None
    return plan.state, plan.message


@pytest.mark.parametrize("name", sorted(JSON_TEXTS))
def test_a_hostile_config_value_is_an_error_of_the_dataflow_using_it(name: str) -> None:
    items = bodies(CALC)
    config = find(items, "ConfigMap", "cpufunc-config-calcapp-plus")
    (key,) = config["data"]
    config["data"][key] = JSON_TEXTS[name]
    engine = Engine()
    engine.apply_all(observed(items))
    state, message = dataflow_state(engine)
    assert state == "Error", message
    assert f"data[{key}]" in message
    assert MARKER not in everything_said(engine)


@pytest.mark.parametrize("name", sorted(JSON_TEXTS))
def test_a_hostile_functioninfo_is_an_error_of_its_function_type(name: str) -> None:
    items = bodies(CALC)
    info = find(items, "ConfigMap", "funcinfo-calcapp-plus")
    info["data"]["deployableItems"] = JSON_TEXTS[name]
    engine = Engine()
    engine.apply_all(observed(items))
    status = engine.status_of(ObjectKey("FunctionType", "cpufunc-calcapp", "functype-calcapp-plus"))
    assert status is not None and status.status["status"] == "Error", status
    assert "data[deployableItems]" in status.status["message"]
    assert MARKER not in everything_said(engine)


@pytest.mark.parametrize("name", sorted(YAML_TEXTS))
def test_a_hostile_user_requirement_is_an_error_of_the_dataflow(name: str) -> None:
    items = bodies(CALC)
    find(items, "DataFlow", "df-calcapp")["spec"]["userRequirement"] = "placement"
    text = YAML_TEXTS[name].encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    items.append(configmap("placement", {"requestNodeNames": text}, "cpufunc-calcapp"))
    engine = Engine()
    engine.apply_all(observed(items))
    state, message = dataflow_state(engine)
    assert "spec.userRequirement" in message or state != "Error", message
    assert MARKER not in everything_said(engine)


@pytest.mark.parametrize("name", sorted(JSON_TEXTS))
def test_a_hostile_network_status_is_a_problem_of_that_pod_only(name: str) -> None:
    facts = parse_body("Pod", "ns", pod_with_network_status("p", JSON_TEXTS[name]))
    assert isinstance(facts, PodFacts)
    assert MARKER not in facts.network_status_problem


def test_unreferenced_hostile_configmaps_do_not_disturb_the_rest() -> None:
    items = bodies(CALC)
    hostile = [
        configmap(f"hostile-{i}", {"config": text}, "cpufunc-calcapp")
        for i, text in enumerate(JSON_TEXTS.values())
    ]
    engine = Engine()
    engine.apply_all(observed([*hostile, *items]))
    clean = Engine()
    clean.apply_all(observed(items))
    assert engine.desired() == clean.desired()
    assert dataflow_state(engine) == dataflow_state(clean)
    # and one at a time, the way a watch delivers them
    for body in hostile:
        engine.apply(Observed.of(body))
    assert engine.desired() == clean.desired()


def test_api_objects_over_the_limits_are_observed_with_their_bad_part_marked() -> None:
    items = bodies(CALC)
    chain = find(items, "FunctionChain", "calcapp-chain")
    text = json.dumps(chain).replace(
        '"functions": {', '"functions": {"deep": ' + "[" * 300 + "1" + "]" * 300 + ", ", 1
    )
    # A limit of 3 levels puts the marker right at spec.functions.deep (limits are parameters).
    marked = bounded.load_api_json(text, bounded.Limits(max_bytes=bounded.MiB, max_depth=3))
    items = [marked if i is chain else i for i in items]
    engine = Engine()
    engine.apply_all(observed(items))
    status = engine.status_of(ObjectKey("FunctionChain", "cpufunc-calcapp", "calcapp-chain"))
    assert status is not None
    assert status.status["message"].startswith(
        "spec.functions.deep: expected an object, got a value over kasugai's limits: "
        "nested deeper than 3 levels (the limit); "
    )


class _Exploding(Mapping[str, Any]):
    """A body whose ``spec`` and ``data`` cannot be read: stands for a bug in a parser, which no
    real input has. Its metadata reads fine, as the world's indexes need it."""

    def __init__(self, name: str = "x") -> None:
        self._meta = {"name": name, "namespace": "cpufunc-calcapp", "uid": "u1"}

    def __getitem__(self, key: str) -> Any:
        if key == "metadata":
            return self._meta
        raise RuntimeError(MARKER)

    def __iter__(self) -> Iterator[str]:
        return iter(("metadata", "spec", "data"))

    def __len__(self) -> int:
        return 3


@pytest.mark.parametrize("kind", ["DataFlow", "FunctionChain", "FunctionType", "ConfigMap", "Pod"])
def test_a_parser_failure_costs_only_that_object_and_is_reported(kind: str) -> None:
    reported: list[tuple[str, BaseException]] = []
    stop = faults.listen(lambda what, error: reported.append((what, error)))
    try:
        value = parse_body(kind, "ns", _Exploding())
    finally:
        stop()
    invalid = value.spec if isinstance(value, DataFlowObject) else value
    assert isinstance(invalid, Invalid)
    assert invalid.message == (
        f"kasugai could not read this {kind}: an internal error (RuntimeError), logged by "
        "kasugai; please report it"
    )
    assert [(what, type(error)) for what, error in reported] == [
        (f"reading a {kind} in namespace ns", RuntimeError)
    ]


def test_an_unreadable_dataflow_keeps_what_runs_for_it() -> None:
    items = bodies(CALC)
    engine = Engine()
    engine.apply_all(observed(items))
    key = ObjectKey("DataFlow", "cpufunc-calcapp", "df-calcapp")
    stored = engine.world.get(key)
    assert stored is not None
    engine.apply(Observed(key.kind, key.namespace, key.name, _Exploding(key.name)))
    plan = engine.plan_of(key)
    assert plan is not None and plan.state == "Error"
    assert "internal error (RuntimeError)" in plan.message
