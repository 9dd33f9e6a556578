"""Make before break, as a law of the core (``kasugai.core.rewiring``).

A small runtime is played around the Engine: it applies the diff (a new Pod starts not Ready,
having loaded nothing), and readiness events come in any order: a Pod becomes Ready, a Pod's
function loads what its ConfigMap holds. Hypothesis draws the chain edits (remove divide,
insert it, swap minus and multiply, restore) and those events. After every step: a running
function's published next hop is never switched to a hop that is not Ready with its own next hop
loaded, and a Pod is never deleted while a running function may still send to it. Once everything
is ready, the chain converges to the last topology.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import hypothesis.strategies as st
from core_helpers import CALC, bodies, find, observed
from hypothesis import HealthCheck, given, settings

from kasugai.core import names
from kasugai.core.diff import diff
from kasugai.core.engine import Engine
from kasugai.core.events import Event, Forgotten, ObjectKey, Observed
from kasugai.core.inventory import copy_json
from kasugai.core.parse import parse_body
from kasugai.core.rewiring import config_digest, loaded_condition

BASE = ("send", "plus", "minus", "multiply", "divide", "average", "rcv")
CHAINS = (
    BASE,
    ("send", "plus", "minus", "multiply", "average", "rcv"),
    ("send", "plus", "multiply", "minus", "divide", "average", "rcv"),
)
DF = ObjectKey("DataFlow", "cpufunc-calcapp", "df-calcapp")


def _chain(keys: tuple[str, ...]) -> dict[str, Any]:
    chain = find(bodies(CALC), "FunctionChain", "calcapp-chain")
    spec = chain["spec"]
    spec["functions"] = {k: spec["functions"][k] for k in keys}
    hops = ["wb-start-of-chain", *keys, "wb-end-of-chain"]
    spec["connections"] = [
        {"from": {"functionKey": a, "port": 0}, "to": {"functionKey": b, "port": 0}}
        for a, b in itertools.pairwise(hops)
    ]
    return chain


def _ip(function: str) -> str:
    return f"10.96.0.{BASE.index(function) + 10}"


class Runtime:
    """Plays the API server and kubelet for the Engine's plans; Pods change only when told."""

    def __init__(self) -> None:
        self.engine = Engine()
        self.actual: dict[ObjectKey, dict[str, Any]] = {}
        self.ready: set[str] = set()  # functions whose Pod is Ready
        self.loaded: dict[str, str] = {}  # function -> config its function runs with
        self.violations: list[str] = []
        items = [b for b in bodies(CALC) if b["kind"] != "FunctionChain"]
        self.engine.apply_all(observed([*items, _chain(BASE)]))

    def function_of(self, key: ObjectKey) -> str:
        body = self.actual.get(key) or {}
        return str(body["metadata"]["labels"][names.FUNCTION_KEY_LABEL])

    def pod(self, function: str) -> ObjectKey | None:
        return next(
            (k for k in self.actual if k.kind == "Pod" and self.function_of(k) == function), None
        )

    def config(self, function: str) -> str | None:
        pod = self.pod(function)
        cm = ObjectKey("ConfigMap", DF.namespace, f"ethcrl.{pod.name}") if pod else None
        body = self.actual.get(cm) if cm else None
        return str(body["data"]["config"]) if body else None

    def settled(self, function: str) -> bool:
        config = self.config(function)
        return function in self.ready and config is not None and self.loaded.get(function) == config

    def _pod_body(self, body: dict[str, Any], function: str) -> dict[str, Any]:
        ready = function in self.ready
        loaded = self.loaded.get(function)
        conditions = [
            {"type": "Ready", "status": "True" if ready else "False"},
            loaded_condition(loaded),
        ]
        return {**body, "status": {"phase": "Running", "conditions": conditions}}

    def sync(self) -> None:
        """Carry out the diff once, checking each write against make before break."""
        events: list[Event] = []
        for action in diff(self.engine.desired(), self.actual.values()):
            key = action.key
            if action.verb == "delete":
                self.check_delete(key)
                body = self.actual.pop(key)
                if key.kind == "Pod":
                    function = str(body["metadata"]["labels"][names.FUNCTION_KEY_LABEL])
                    self.ready.discard(function)
                    self.loaded.pop(function, None)
                events.append(Forgotten(key.kind, key.namespace, key.name))
                continue
            body = copy_json(dict(action.desired or {}))
            function = str(body["metadata"]["labels"][names.FUNCTION_KEY_LABEL])
            if key.kind == "ConfigMap":
                self.check_publish(function, action.actual, body)
            if key.kind == "Service":
                body["spec"]["clusterIP"] = _ip(function)
                body["status"] = {"loadBalancer": {"ingress": [{"ip": _ip(function)}]}}
            if key.kind == "Pod":
                if action.verb == "create":
                    self.ready.discard(function)
                    self.loaded.pop(function, None)
                body = self._pod_body(body, function)
            self.actual[key] = body
            events.append(Observed.of(body))
        self.engine.apply_all(events)

    def report(self, function: str) -> None:
        pod = self.pod(function)
        if pod is not None:
            self.actual[pod] = self._pod_body(self.actual[pod], function)
            self.engine.apply(Observed.of(self.actual[pod]))

    def check_publish(self, function: str, before: Any, after: dict[str, Any]) -> None:
        if before is None or function not in self.ready:
            return  # a first config, or a function that carries no traffic: nothing to keep
        old, new = before["data"]["config"], after["data"]["config"]
        if old == new:
            return
        for ip in json.loads(new).get("ips", []):
            target = next(f for f in BASE if _ip(f) == ip)
            if not self.settled(target):
                self.violations.append(f"{function} switched to {target}, which is not ready")

    def check_delete(self, key: ObjectKey) -> None:
        if key.kind != "Pod":
            return
        gone = _ip(self.function_of(key))
        for function in list(self.ready):
            loaded = self.loaded.get(function)
            if loaded is not None and gone in json.loads(loaded).get("ips", []):
                self.violations.append(f"{key.name} deleted while {function} sends to it")


STEP = st.one_of(
    st.tuples(st.just("edit"), st.sampled_from(range(len(CHAINS)))),
    st.tuples(st.just("sync"), st.just(0)),
    st.tuples(st.just("ready"), st.sampled_from(range(len(BASE)))),
    st.tuples(st.just("load"), st.sampled_from(range(len(BASE)))),
    st.tuples(st.just("settle"), st.just(0)),
)


def settle(runtime: Runtime) -> None:
    """Every Pod Ready and loaded, again and again, until nothing is left to do."""
    for _ in range(3 * len(BASE)):
        runtime.sync()
        for function in BASE:
            if runtime.pod(function) is not None:
                runtime.ready.add(function)
                if (config := runtime.config(function)) is not None:
                    runtime.loaded[function] = config
                runtime.report(function)
    runtime.sync()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, max_size=40))
def test_no_switch_to_an_unready_hop_and_convergence(steps: list[tuple[str, int]]) -> None:
    runtime = Runtime()
    final = BASE
    for verb, index in steps:
        if verb == "edit":
            final = CHAINS[index]
            runtime.engine.apply(Observed.of(_chain(final)))
        elif verb == "sync":
            runtime.sync()
        elif verb == "settle":
            settle(runtime)
        else:
            function = BASE[index]
            if runtime.pod(function) is None:
                continue
            if verb == "ready":
                runtime.ready.add(function)
            elif (config := runtime.config(function)) is not None:
                runtime.loaded[function] = config
            runtime.report(function)
        assert runtime.violations == []
    settle(runtime)  # everything becomes ready: the chain converges
    assert runtime.violations == []
    plan = runtime.engine.plan_of(DF)
    assert plan is not None and plan.state == "Deployed", plan and plan.message
    rewired = next(c for c in plan.status["conditions"] if c["type"] == "Rewired")
    assert rewired["status"] == "True", rewired
    assert {runtime.function_of(k) for k in runtime.actual if k.kind == "Pod"} == set(final)
    hops = {
        function: json.loads(runtime.config(function) or "{}").get("ips", []) for function in final
    }
    assert hops == {a: [_ip(b)] for a, b in itertools.pairwise(final)} | {"rcv": []}


def test_the_loaded_condition_reads_back_as_the_digest_the_core_compares() -> None:
    """What the sidecar and the local runtime write is what the parser of Pods reads."""
    config = json.dumps({"ips": ["10.96.0.1"], "ports": [{"port": 8080, "protocol": "TCP"}]})

    def facts(*conditions: dict[str, str]) -> Any:
        body = {"kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}}
        return parse_body("Pod", "ns", {**body, "status": {"conditions": list(conditions)}})

    assert facts(loaded_condition(config)).loaded == config_digest(config)
    assert facts(loaded_condition(None)).loaded == ""
    assert facts().loaded is None  # not reported: the core falls back to what was published
    assert loaded_condition(config)["type"] == names.CONNECTION_LOADED_CONDITION
