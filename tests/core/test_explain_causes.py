"""``kasugai.explain``: every waiting reason, worded as an action, root cause first.

The DataFlow statuses come from the real core (an Engine fed the calc sample with one input
removed or broken, and the make-before-break runtime of ``test_rewiring`` for a chain being
rewired), so the shapes are the ones the controller writes. The scheduler's, the kubelet's and
the sidecar's parts of a Pod status are written here as those components write them: this tier
runs none of them (the cluster tier writes them on a real API server, tests/cluster).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core_helpers import CALC, bodies, engine_with
from test_rewiring import DF, Runtime, _chain, settle

from kasugai.core.events import Observed
from kasugai.explain import clean, explain, render_text

NS, NAME = DF.namespace, DF.name
PLUS = "df-calcapp-wbfunction-plus-cpu-pod"


def _dataflow(engine: Any) -> dict[str, Any]:
    plan = engine.plan_of(DF)
    assert plan is not None
    return {"metadata": {"namespace": NS, "name": NAME}, "status": plan.status}


def _without(kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [
        b
        for b in bodies(CALC)
        if not (b["kind"] == kind and (name is None or b["metadata"]["name"] == name))
    ]


def _engine(items: list[dict[str, Any]]) -> Any:
    from kasugai.core.engine import Engine

    engine = Engine()
    engine.apply_all([Observed.of(b) for b in items])
    return engine


def _deployed() -> tuple[Runtime, dict[str, Any], list[dict[str, Any]]]:
    runtime = Runtime()
    settle(runtime)
    pods = [b for k, b in runtime.actual.items() if k.kind == "Pod"]
    return runtime, _dataflow(runtime.engine), pods


def _pod(pods: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(p for p in pods if p["metadata"]["name"] == name)


def test_deployed_and_healthy_has_no_cause() -> None:
    _, dataflow, pods = _deployed()
    result = explain(dataflow, pods)
    assert result.status == "Deployed"
    assert result.healthy, result.causes
    assert result.causes == ()
    text = render_text(result)
    assert text.startswith(f"DataFlow {NS}/{NAME}: Deployed\n")
    assert "7/7 Pods Running and Ready, 6/6 connections published" in text


def test_a_missing_function_type_is_named_with_its_namespace() -> None:
    items = _without("FunctionType", "functype-calcapp-plus")
    result = explain(_dataflow(_engine(items)))
    assert not result.healthy
    first = result.causes[0]
    assert first.reason == "MissingInput"
    assert first.about == f"FunctionType calcapp-plus (version 1.0.0) in namespace {NS}"
    assert "create a FunctionType with spec.functionName 'calcapp-plus'" in first.action
    assert "spec.functions.plus of FunctionChain" in first.action


def test_a_missing_function_chain_and_config_configmap() -> None:
    chain = explain(_dataflow(_engine(_without("FunctionChain"))))
    assert chain.causes[0].reason == "MissingInput"
    assert chain.causes[0].about == f"FunctionChain calcapp-chain in namespace {NS}"
    assert "spec.functionChainRef" in chain.causes[0].action

    items = [
        b
        for b in bodies(CALC)
        if not (b["kind"] == "ConfigMap" and b["metadata"]["name"].startswith("cpufunc-config"))
    ]
    config = explain(_dataflow(_engine(items)))
    missing = [c for c in config.causes if c.reason == "MissingInput"]
    assert missing and missing[0].about.startswith("ConfigMap cpufunc-config-calcapp-")
    assert f"in namespace {NS}" in missing[0].about
    assert missing[0].action.startswith("create ConfigMap cpufunc-config-calcapp-")
    assert any("more problem" in c.message for c in config.causes)  # 7 missing, 5 shown


def test_an_invalid_config_names_the_field_and_the_fix() -> None:
    items = bodies(CALC)
    for item in items:
        if item["kind"] == "ConfigMap" and item["metadata"]["name"].startswith("cpufunc-config"):
            (key,) = item["data"]
            item["data"][key] = item["data"][key].replace('"envs": {', '"envs": [1], "x": {', 1)
    result = explain(_dataflow(_engine(items)))
    assert result.status == "Error"
    cause = result.causes[0]
    assert cause.reason == "InvalidConfig"
    assert cause.about.startswith("ConfigMap ")
    assert ".envs" in cause.action and cause.action.startswith("fix data[")
    assert "expected an object" in cause.action


def test_an_ownership_conflict_names_the_object_and_how_to_free_the_name() -> None:
    squatter = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "df-calcapp-wbfunction-plus-service", "namespace": NS},
        "spec": {"clusterIP": "10.96.0.50", "ports": [{"port": 8080, "protocol": "TCP"}]},
    }
    result = explain(_dataflow(engine_with(CALC, extra=[squatter])))
    cause = result.causes[0]
    assert cause.reason == "Conflict"
    assert cause.about == f"Service {NS}/df-calcapp-wbfunction-plus-service"
    assert f"kubectl delete -n {NS} service df-calcapp-wbfunction-plus-service" in cause.action


def test_a_pod_the_scheduler_cannot_place() -> None:
    _, dataflow, pods = _deployed()
    message = "0/1 nodes are available: 1 Insufficient nvidia.com/gpu. preemption: 0/1 nodes"
    _pod(pods, PLUS)["status"] = {  # as kube-scheduler writes it (no scheduler in this tier)
        "phase": "Pending",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": message,
            }
        ],
    }
    result = explain(dataflow, pods)
    assert not result.healthy
    cause = next(c for c in result.causes if c.about == f"Pod {NS}/{PLUS}")
    assert cause.reason == "Unschedulable"
    assert message in cause.message
    assert "(nvidia.com/gpu)" in cause.action


def _container(state: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "app", "ready": False, "restartCount": 4, "state": state, **extra}


def test_a_container_in_crash_loop_quotes_its_last_termination() -> None:
    _, dataflow, pods = _deployed()
    waiting = {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}
    last = {"terminated": {"exitCode": 2, "reason": "Error", "message": "no such file: /config"}}
    _pod(pods, PLUS)["status"] = {  # as the kubelet writes it (no kubelet in this tier)
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
        "containerStatuses": [_container({"waiting": waiting}, lastState=last)],
    }
    cause = next(c for c in explain(dataflow, pods).causes if "container app" in c.about)
    assert cause.reason == "CrashLoopBackOff"
    assert "exit code 2, Error: no such file: /config" in cause.message
    assert f"kubectl logs -n {NS} {PLUS} -c app --previous" in cause.action


def test_an_image_that_cannot_be_pulled() -> None:
    _, dataflow, pods = _deployed()
    waiting = {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "x/calc:nope"'}
    _pod(pods, PLUS)["status"] = {
        "phase": "Pending",
        "containerStatuses": [_container({"waiting": waiting}, image="x/calc:nope")],
    }
    cause = next(c for c in explain(dataflow, pods).causes if "container app" in c.about)
    assert cause.reason == "ImagePullBackOff"
    assert "x/calc:nope" in cause.message and "can pull it" in cause.action


def test_a_sidecar_that_failed_to_render() -> None:
    from kasugai_sidecar.loaded_report import render_failed_condition

    _, dataflow, pods = _deployed()
    failed = render_failed_condition("config.yaml.tmpl: template: bad: unexpected EOF")
    _pod(pods, PLUS)["status"]["conditions"][1] = failed
    result = explain(dataflow, pods)
    assert not result.healthy  # the Pod is Running and Ready, but runs an old config
    cause = next(c for c in result.causes if c.reason == "RenderFailed")
    assert cause.about == f"Pod {NS}/{PLUS} sidecar"
    assert "unexpected EOF" in cause.message
    assert f"kubectl logs -n {NS} {PLUS} -c sidecar" in cause.action


def test_rewiring_waits_for_the_next_hop_and_says_which() -> None:
    runtime, _, _ = _deployed()
    runtime.engine.apply(
        Observed.of(_chain(("send", "plus", "multiply", "minus", "divide", "average", "rcv")))
    )
    runtime.sync()
    pods = [b for k, b in runtime.actual.items() if k.kind == "Pod"]
    result = explain(_dataflow(runtime.engine), pods)
    rewiring = [c for c in result.causes if c.reason == "Rewiring"]
    assert rewiring, result.causes
    assert rewiring[0].about.startswith("connection ")
    assert "waiting for" in rewiring[0].message
    assert (
        "sidecar has not reported loading" in rewiring[0].action or "see Pod" in rewiring[0].action
    )
    assert not result.healthy


def test_pods_not_created_yet_and_waiting_connections() -> None:
    result = explain(_dataflow(engine_with(CALC)))
    reasons = [c.reason for c in result.causes]
    assert reasons[0] == "PodsMissing"
    assert "Waiting" in reasons
    assert reasons.index("PodsMissing") < reasons.index("Waiting")  # root before symptom
    assert sum(r == "Waiting" for r in reasons) == 6  # five shown, then "and 1 more"


def test_an_apply_failed_event_and_a_scheduler_event_only() -> None:
    _, dataflow, pods = _deployed()
    _pod(pods, PLUS)["status"] = {"phase": "Pending"}
    events = [
        {
            "type": "Warning",
            "reason": "FailedScheduling",
            "message": "0/3 nodes are available: 3 node(s) had untolerated taint",
            "involvedObject": {"kind": "Pod", "name": PLUS},
        },
        {
            "type": "Warning",
            "reason": "ApplyFailed",
            "message": 'pods "x" is forbidden: exceeded quota',
            "involvedObject": {"kind": "DataFlow", "name": NAME},
        },
    ]
    old_news = {  # about a Pod that runs fine now: no cause
        "type": "Warning",
        "reason": "BackOff",
        "message": "Back-off restarting failed container",
        "involvedObject": {"kind": "Pod", "name": "df-calcapp-wbfunction-send-cpu-pod"},
    }
    result = explain(dataflow, pods, [old_news, *events])
    reasons = [(c.reason, c.about) for c in result.causes]
    assert not any(reason == "BackOff" for reason, _ in reasons)
    assert reasons[0] == ("ApplyFailed", f"DataFlow {NAME}")
    assert ("FailedScheduling", f"Pod {PLUS}") in reasons
    assert len(result.events) == 3


def test_hostile_text_is_cleaned_and_bounded() -> None:
    assert clean("a\x1b[31mb\x07") == "a [31mb "
    assert len(clean("x" * 10_000)) == 600
    result = explain({"metadata": {"name": "n\x1b]0;x", "namespace": 5}, "status": "bad"})
    assert "\x1b" not in render_text(result)
    assert not result.healthy


def test_the_command_line_errors_exit_2(tmp_path: Path, capsys: Any) -> None:
    from kasugai.cli import main

    assert main(["explain", "pods/x", "--state-dir", str(tmp_path)]) == 2
    assert "DATAFLOW: expected NAME or dataflow/NAME" in capsys.readouterr().err
    assert main(["explain", NAME, "--state-dir", str(tmp_path)]) == 2
    assert "no local runtime has run with state directory" in capsys.readouterr().err
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("not: a kubeconfig\n")
    assert main(["explain", NAME, "--cluster", "--kubeconfig", str(kubeconfig)]) == 2
    assert "kasugai explain: error: kubeconfig:" in capsys.readouterr().err


def test_a_dataflow_no_controller_has_seen() -> None:
    fresh = explain({"metadata": {"namespace": NS, "name": NAME, "generation": 1}})
    assert [c.reason for c in fresh.causes] == ["NoStatus"]
    _, dataflow, pods = _deployed()
    dataflow["metadata"]["generation"] = dataflow["status"]["observedGeneration"] = 3
    assert explain(dataflow, pods).healthy
    dataflow["metadata"]["generation"] = 4
    edited = explain(dataflow, pods)
    assert [c.reason for c in edited.causes] == ["NotObservedYet"] and not edited.healthy
