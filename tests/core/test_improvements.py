"""kasugai's improvements over the original controller (docs/compatibility.md, the
original's defects), one test each."""

from __future__ import annotations

import copy
import json
from typing import Any

from core_helpers import (
    CALC,
    FACTS,
    P1C1,
    P2C1,
    bodies,
    config_entries,
    engine_with,
    find,
    observed,
    set_config_entries,
)

from kasugai.core.engine import Engine
from kasugai.core.events import ObjectKey, Observed

NS = "cpufunc-calcapp"
SCRAPED = {
    "prometheus.io/scrape": "true",
    "prometheus.io/port": "9464",
    "prometheus.io/path": "/metrics",
}
DF = ObjectKey("DataFlow", NS, "df-calcapp")


def calc_engine(edit: Any = None) -> Engine:
    items = bodies(CALC, FACTS / "calc-basic")
    if edit:
        edit(items)
    engine = Engine()
    engine.apply_all(observed(items))
    return engine


def configmap(engine: Engine, pod: str) -> str:
    found = find(engine.desired(), "ConfigMap", f"ethcrl.{pod}")
    config: str = found["data"]["config"]
    return config


def test_level_triggered_chain_edit_rewires_running_functions() -> None:
    engine = calc_engine()
    plus_pod = "df-calcapp-wbfunction-plus-cpu-pod"
    assert json.loads(configmap(engine, plus_pod))["ips"] == ["10.96.102.12"]  # minus
    chain = find(bodies(CALC), "FunctionChain", "calcapp-chain")
    connections = chain["spec"]["connections"]
    # Drop minus: plus -> multiply.
    del chain["spec"]["functions"]["minus"]
    connections[2]["to"]["functionKey"] = "multiply"
    del connections[3]
    changes = engine.apply(Observed.of(chain))
    assert changes.plans.keys() == {DF}
    assert json.loads(configmap(engine, plus_pod))["ips"] == ["10.96.103.13"]  # multiply
    moves = {(t.subject, t.reason) for t in changes.transitions}
    assert ("plus:0->multiply:0", "AddressKnown") in moves
    # Make before break: minus keeps running until plus runs with its new next hop.
    minus_pod = "df-calcapp-wbfunction-minus-cpu-pod"
    assert find(engine.desired(), "Pod", minus_pod)
    plan = engine.plan_of(DF)
    assert plan is not None and "draining Pod " + minus_pod in plan.message
    published = [o for o in engine.desired() if o["kind"] == "ConfigMap"]
    engine.apply_all([Observed.of(o) for o in published])  # as the API server reports them
    names = {o["metadata"]["name"] for o in engine.desired()}
    assert not any("minus" in name for name in names)


def test_level_triggered_config_edit_changes_the_pod() -> None:
    engine = calc_engine()
    config = find(bodies(CALC), "ConfigMap", "cpufunc-config-calcapp-plus")
    entries = config_entries(config)
    entries[0]["template"]["spec"]["containers"][0]["image"] = "localhost/calcapp:v2"
    changes = engine.apply(Observed.of(set_config_entries(config, entries)))
    assert changes.plans.keys() == {DF}
    pod = find(engine.desired(), "Pod", "df-calcapp-wbfunction-plus-cpu-pod")
    assert pod["spec"]["containers"][0]["image"] == "localhost/calcapp:v2"


def test_missing_network_annotation_means_clusterip() -> None:
    def edit(items: list[dict[str, Any]]) -> None:
        config = find(items, "ConfigMap", "cpufunc-config-calcapp-plus")
        entries = config_entries(config)
        del entries[0]["Annotations"]
        set_config_entries(config, entries)

    engine = calc_engine(edit)
    service = find(engine.desired(), "Service", "df-calcapp-wbfunction-plus-service")
    assert service["spec"]["type"] == "ClusterIP"
    pod = find(engine.desired(), "Pod", "df-calcapp-wbfunction-plus-cpu-pod")
    assert pod["metadata"]["annotations"] == SCRAPED  # nothing but the scrape annotations
    # ... and its predecessor still gets its address (the original skipped both).
    send = json.loads(configmap(engine, "df-calcapp-wbfunction-send-cpu-pod"))
    assert send["ips"] == ["10.96.101.11"]


def test_fan_out_writes_outputs_per_port() -> None:
    def edit(items: list[dict[str, Any]]) -> None:
        chain = find(items, "FunctionChain", "calcapp-chain")
        connections = chain["spec"]["connections"]
        connections[2]["from"] = {"functionKey": "send", "port": 1}  # send -> minus on port 1
        info = find(items, "ConfigMap", "funcinfo-calcapp-send")
        info["data"]["spec"] = info["data"]["spec"].replace('"maxOutputNum":1', '"maxOutputNum":2')

    engine = calc_engine(edit)
    plan = engine.plan_of(DF)
    assert plan is not None and plan.state == "Deployed", plan and plan.message
    expected = {
        "ips": ["10.96.101.11"],
        "ports": [{"port": 8080, "protocol": "TCP"}],
        "outputs": {
            "0": {"ips": ["10.96.101.11"], "ports": [{"port": 8080, "protocol": "TCP"}]},
            "1": {"ips": ["10.96.102.12"], "ports": [{"port": 8080, "protocol": "TCP"}]},
        },
    }
    assert configmap(engine, "df-calcapp-wbfunction-send-cpu-pod") == json.dumps(expected, indent=2)
    # plus is now last: it gets {}.
    assert configmap(engine, "df-calcapp-wbfunction-plus-cpu-pod") == "{}"


def test_gpu_function_first_in_a_single_function_chain() -> None:
    items = bodies(P2C1)
    chain = find(items, "FunctionChain", "cpu-p2c1-chain")
    chain["spec"]["functions"] = {"dsa": chain["spec"]["functions"]["dsa"]}
    chain["spec"]["connections"] = [
        {"from": {"functionKey": "wb-start-of-chain"}, "to": {"functionKey": "dsa"}},
        {"from": {"functionKey": "dsa"}, "to": {"functionKey": "wb-end-of-chain"}},
    ]
    engine = Engine()
    engine.apply_all(observed(items))
    desired = engine.desired()
    assert [(o["kind"], o["metadata"]["name"]) for o in desired] == [
        ("ServiceAccount", "df-cpu-p2c1-wbfunction-dsa-gpu-pod"),
        ("Role", "df-cpu-p2c1-wbfunction-dsa-gpu-pod"),
        ("RoleBinding", "df-cpu-p2c1-wbfunction-dsa-gpu-pod"),
        ("Pod", "df-cpu-p2c1-wbfunction-dsa-gpu-pod"),
        ("Service", "df-cpu-p2c1-wbfunction-dsa-service"),
        ("ConfigMap", "ethcrl.df-cpu-p2c1-wbfunction-dsa-gpu-pod"),
    ]
    assert desired[4]["spec"]["type"] == "LoadBalancer"
    assert desired[5]["data"]["config"] == "{}"
    plan = engine.plan_of(ObjectKey("DataFlow", "cpufunc-sample", "df-cpu-p2c1"))
    assert plan is not None and plan.state == "Deploying"
    # Its only entry is TCP/TCP; first and last wants RTP/RTP: used, and said so.
    (fallback,) = [c for c in plan.status["conditions"] if c["type"] == "ConfigFallback"]
    assert fallback["message"] == (
        "function 'dsa': ConfigMap default/cpufunc-config-gpu-p2c1-dsa: no entry for "
        "rxProtocol=RTP txProtocol=RTP; using its only entry (TCP/TCP)"
    )


def test_multi_port_functions_get_named_service_ports() -> None:
    def edit(items: list[dict[str, Any]]) -> None:
        config = find(items, "ConfigMap", "cpufunc-config-calcapp-plus")
        entries = config_entries(config)
        app, sidecar = entries[0]["template"]["spec"]["containers"]
        app["ports"] = [
            {"containerPort": 8080, "protocol": "TCP", "name": "grpc"},
            {"containerPort": 9090, "protocol": "UDP"},
        ]
        sidecar["ports"] = [{"containerPort": 8081, "name": "metrics"}]
        set_config_entries(config, entries)
        service = find(items, "Service", "df-calcapp-wbfunction-plus-service")
        service["spec"]["ports"] = [
            {"name": "grpc", "port": 8080, "protocol": "TCP"},
            {"name": "udp-9090", "port": 9090, "protocol": "UDP"},
            {"name": "metrics", "port": 8081, "protocol": "TCP"},
        ]

    engine = calc_engine(edit)
    service = find(engine.desired(), "Service", "df-calcapp-wbfunction-plus-service")
    assert service["spec"]["ports"] == [
        {"name": "grpc", "port": 8080, "targetPort": 8080, "protocol": "TCP"},
        {"name": "udp-9090", "port": 9090, "targetPort": 9090, "protocol": "UDP"},
        {"name": "metrics", "port": 8081, "targetPort": 8081, "protocol": "TCP"},
    ]
    send = json.loads(configmap(engine, "df-calcapp-wbfunction-send-cpu-pod"))
    assert send["ports"] == [
        {"port": 8080, "protocol": "TCP"},
        {"port": 9090, "protocol": "UDP"},
        {"port": 8081, "protocol": "TCP"},
    ]


def test_config_looked_up_in_the_dataflow_namespace_first() -> None:
    engine = calc_engine()
    local = find(bodies(CALC), "ConfigMap", "cpufunc-config-calcapp-plus")
    local["metadata"]["namespace"] = NS
    entries = config_entries(local)
    entries[0]["imageURI"] = entries[0]["template"]["spec"]["containers"][0]["image"] = "mine:1"
    changes = engine.apply(Observed.of(set_config_entries(local, entries)))
    assert changes.replanned == {DF}
    desired = engine.desired()
    assert (
        find(desired, "Pod", "df-calcapp-wbfunction-plus-cpu-pod")["spec"]["containers"][0]["image"]
        == "mine:1"
    )
    assert (
        find(desired, "Pod", "df-calcapp-wbfunction-minus-cpu-pod")["spec"]["containers"][0][
            "image"
        ]
        == "localhost/cpufunc_calcapp:latest"
    )


def test_single_entry_fallback_is_used_and_reported() -> None:
    def edit(items: list[dict[str, Any]]) -> None:
        config = find(items, "ConfigMap", "cpufunc-config-calcapp-plus")
        entries = config_entries(config)
        entries[0]["rxProtocol"] = entries[0]["txProtocol"] = "RTP"
        set_config_entries(config, entries)

    engine = calc_engine(edit)
    plan = engine.plan_of(DF)
    assert plan is not None and plan.state == "Deployed"
    assert {
        "type": "ConfigFallback",
        "status": "True",
        "reason": "SingleEntry",
        "message": "function 'plus': ConfigMap default/cpufunc-config-calcapp-plus: no entry for "
        "rxProtocol=TCP txProtocol=TCP; using its only entry (RTP/RTP)",
    } in plan.status["conditions"]


def test_user_requirement_becomes_required_node_affinity() -> None:
    requirement = bodies(
        CALC.parent.parent / "multi-worker" / "calc-func" / "user_requirement.yaml"
    )

    def edit(items: list[dict[str, Any]]) -> None:
        find(items, "DataFlow", "df-calcapp")["spec"]["userRequirement"] = "user-requirement"
        items.extend(requirement)

    engine = calc_engine(edit)
    pod = find(engine.desired(), "Pod", "df-calcapp-wbfunction-divide-cpu-pod")
    assert pod["spec"]["affinity"] == {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {
                                "key": "kubernetes.io/hostname",
                                "operator": "In",
                                "values": ["kind-worker2"],
                            }
                        ]
                    }
                ]
            }
        }
    }


def test_only_the_dataflows_an_event_concerns_are_replanned() -> None:
    second = copy.deepcopy(find(bodies(CALC), "DataFlow", "df-calcapp"))
    second["metadata"]["name"] = "df-two"
    engine = engine_with(CALC, P1C1, FACTS / "calc-basic", extra=[second])
    two = ObjectKey("DataFlow", NS, "df-two")
    p1c1 = ObjectKey("DataFlow", "cpufunc-sample", "df-cpu-p1c1")
    assert {p.key for p in engine.plans()} == {DF, two, p1c1}

    service = find(bodies(FACTS / "calc-basic"), "Service", "df-calcapp-wbfunction-minus-service")
    service["spec"]["clusterIP"] = "10.96.0.99"
    changes = engine.apply(Observed.of(service))
    assert changes.replanned == {DF}
    assert json.loads(configmap(engine, "df-calcapp-wbfunction-plus-cpu-pod"))["ips"] == [
        "10.96.0.99"
    ]
    assert [(t.subject, t.reason) for t in changes.transitions] == [("plus:0->minus:0", "Rewired")]

    function_type = find(bodies(CALC), "FunctionType", "functype-calcapp-plus")
    function_type["metadata"]["labels"] = {"touched": "yes"}
    changes = engine.apply(Observed.of(function_type))
    assert changes.replanned == {DF, two}
    assert not changes.plans  # nothing changed for them

    info = find(bodies(P1C1), "ConfigMap", "funcinfo-cpu-p1c1-rcv")
    assert engine.apply(Observed.of(info)).replanned == {p1c1}
    config = find(bodies(CALC), "ConfigMap", "cpufunc-config-calcapp-rcv")
    assert engine.apply(Observed.of(config)).replanned == {DF, two}
    unrelated = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kube-root-ca.crt", "namespace": NS},
        "data": {"ca.crt": "-----BEGIN CERTIFICATE-----"},
    }
    assert engine.apply(Observed.of(unrelated)).replanned == frozenset()


def test_function_pods_advertise_their_metrics_unless_the_entry_says_otherwise() -> None:
    engine = calc_engine()
    pods = [o for o in engine.desired() if o["kind"] == "Pod"]
    assert pods
    for pod in pods:
        annotations = pod["metadata"]["annotations"]
        assert {k: annotations[k] for k in SCRAPED} == SCRAPED

    def edit(items: list[dict[str, Any]]) -> None:
        config = find(items, "ConfigMap", "cpufunc-config-calcapp-plus")
        entries = config_entries(config)
        entries[0]["Annotations"]["prometheus.io/scrape"] = "false"
        set_config_entries(config, entries)
        config = find(items, "ConfigMap", "cpufunc-config-calcapp-minus")
        entries = config_entries(config)
        entries[0]["Annotations"]["prometheus.io/port"] = "9500"
        set_config_entries(config, entries)

    engine = calc_engine(edit)
    plus = find(engine.desired(), "Pod", "df-calcapp-wbfunction-plus-cpu-pod")
    annotations = plus["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "false"  # the user's word wins
    assert "prometheus.io/port" not in annotations and "prometheus.io/path" not in annotations
    minus = find(engine.desired(), "Pod", "df-calcapp-wbfunction-minus-cpu-pod")
    annotations = minus["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == "9500"  # an entry's own port is kept
    assert annotations["prometheus.io/scrape"] == "true"
