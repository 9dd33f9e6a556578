"""Fact builders for adapters without an API server: a local-runtime-like loop reaches Deployed
with every connection pointing at the addresses it reported."""

from __future__ import annotations

import json

from core_helpers import CALC, P3C1, engine_with

from kasugai.core.diff import diff
from kasugai.core.engine import Engine
from kasugai.core.events import Observed
from kasugai.core.facts import observed_pod, observed_service


def run_locally(engine: Engine) -> dict[str, str]:
    """Report every desired Pod running and every Service at a loopback address, like the local
    runtime would; return Service name -> address given."""
    addresses = {}
    facts: list[Observed] = []
    workloads = [obj for obj in engine.desired() if obj["kind"] in ("Pod", "Service")]
    for index, obj in enumerate(workloads):
        if obj["kind"] == "Service":
            ip = f"127.0.1.{index}"
            addresses[obj["metadata"]["name"]] = ip
            ingress = [ip] if obj["spec"]["type"] == "LoadBalancer" else []
            facts.append(observed_service(obj, cluster_ip=ip, ingress_ips=ingress))
        elif obj["kind"] == "Pod":
            facts.append(observed_pod(obj, phase="Running", vf_ips=[f"127.0.2.{index}"]))
    engine.apply_all(facts)
    return addresses


def test_reported_services_wire_the_calc_chain() -> None:
    engine = engine_with(CALC)
    addresses = run_locally(engine)
    (plan,) = engine.plans()
    assert plan.state == "Deployed", plan.message
    plus = next(c for c in plan.configmaps if "wbfunction-send-" in c["metadata"]["name"])
    assert json.loads(plus["data"]["config"])["ips"] == [
        addresses["df-calcapp-wbfunction-plus-service"]
    ]


def test_reported_vf_addresses_wire_an_sriov_chain() -> None:
    engine = engine_with(P3C1)
    run_locally(engine)
    (plan,) = engine.plans()
    assert plan.state == "Deployed", plan.message
    pip = plan.configmaps[0]
    assert json.loads(pip["data"]["config"])["ips"] == ["127.0.2.1"]  # rcv, the second Pod


def test_reported_objects_diff_clean_against_the_plan() -> None:
    engine = engine_with(CALC)
    run_locally(engine)
    live = [stored.body for key, stored in engine.world if key.kind in ("Pod", "Service")]
    actions = diff(engine.desired(), live)
    assert [a for a in actions if a.key.kind in ("Pod", "Service")] == []
