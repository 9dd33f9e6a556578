"""diff(desired, actual): only our fields count; deletes only our inventory; Pods are replaced."""

from __future__ import annotations

import copy
from typing import Any

from core_helpers import CALC, FACTS, P2C1, ApiServerStandIn, converge, engine_with

from kasugai.commands.diff import diff_exit_code, render_diff
from kasugai.core.diff import Action, covers, diff
from kasugai.core.events import ObjectKey


def applied() -> tuple[list[dict[str, Any]], ApiServerStandIn]:
    """The calc plan applied to the stand-in server (every server field filled in)."""
    engine = engine_with(CALC)
    server = ApiServerStandIn()
    converge(engine, server)
    return engine.desired(), server


def test_nothing_to_do_is_empty_despite_server_fields() -> None:
    desired, server = applied()
    pod = server.objects[ObjectKey("Pod", "cpufunc-calcapp", "df-calcapp-wbfunction-plus-cpu-pod")]
    assert pod["spec"]["dnsPolicy"] == "ClusterFirst"  # the stand-in did populate
    assert pod["metadata"]["uid"]
    assert diff(desired, server.objects.values()) == []


def test_missing_object_is_created() -> None:
    desired, server = applied()
    key = ObjectKey("Service", "cpufunc-calcapp", "df-calcapp-wbfunction-minus-service")
    del server.objects[key]
    (action,) = diff(desired, server.objects.values())
    assert (action.verb, action.key, action.actual) == ("create", key, None)


def test_changed_label_is_a_patch_changed_spec_replaces_a_pod() -> None:
    desired, server = applied()
    key = ObjectKey("Pod", "cpufunc-calcapp", "df-calcapp-wbfunction-plus-cpu-pod")
    server.objects[key]["metadata"]["labels"]["kasugai.io/function-key"] = "other"
    assert [(a.verb, a.key) for a in diff(desired, server.objects.values())] == [("patch", key)]
    server.objects[key]["spec"]["containers"][0]["image"] = "old:1"
    assert [(a.verb, a.key) for a in diff(desired, server.objects.values())] == [("replace", key)]


def test_changed_configmap_data_is_a_patch() -> None:
    desired, server = applied()
    key = ObjectKey("ConfigMap", "cpufunc-calcapp", "ethcrl.df-calcapp-wbfunction-send-cpu-pod")
    server.objects[key]["data"]["config"] = "{}"
    (action,) = diff(desired, server.objects.values())
    assert (action.verb, action.key) == ("patch", key)


def test_an_env_var_we_no_longer_set_is_a_change() -> None:
    desired, server = applied()
    key = ObjectKey("Pod", "cpufunc-calcapp", "df-calcapp-wbfunction-plus-cpu-pod")
    server.objects[key]["spec"]["containers"][0]["env"].append({"name": "OLD", "value": "1"})
    assert [(a.verb, a.key) for a in diff(desired, server.objects.values())] == [("replace", key)]


def test_only_inventory_objects_are_deleted() -> None:
    desired, server = applied()
    ours = copy.deepcopy(
        server.objects[ObjectKey("Service", "cpufunc-calcapp", "df-calcapp-wbfunction-rcv-service")]
    )
    ours["metadata"]["name"] = "df-calcapp-wbfunction-gone-service"
    foreign = copy.deepcopy(ours)
    foreign["metadata"]["name"] = "someone-elses"
    del foreign["metadata"]["labels"]["app.kubernetes.io/managed-by"]
    actions = diff(desired, [*server.objects.values(), ours, foreign])
    assert [(a.verb, a.key.name) for a in actions] == [
        ("delete", "df-calcapp-wbfunction-gone-service")
    ]


def test_offline_plan_with_facts_against_itself() -> None:
    """The facts files have fewer fields than desired: patches, never deletes or replaces."""
    engine = engine_with(CALC, FACTS / "calc-basic")
    facts = [stored.body for key, stored in engine.world if key.kind in ("Service", "Pod")]
    actions = diff(engine.desired(), facts)
    verbs = {a.verb for a in actions if a.key.kind in ("Service", "Pod")}
    assert verbs == {"patch", "replace"}


def test_quantities_and_missing_empty_maps() -> None:
    assert covers({"limits": {"nvidia.com/gpu": 1}}, {"limits": {"nvidia.com/gpu": "1"}})
    assert not covers({"limits": {"nvidia.com/gpu": 2}}, {"limits": {"nvidia.com/gpu": "1"}})
    assert covers({"emptyDir": {}}, {"emptyDir": {}})
    assert covers({"annotations": {}}, {})
    assert not covers({"a": True}, {"a": 1})
    assert not covers({"ports": [{"port": 1}]}, {"ports": [{"port": 1}, {"port": 2}]})


def test_render_diff_follows_kubectl_conventions() -> None:
    desired, server = applied()
    key = ObjectKey("ConfigMap", "cpufunc-calcapp", "ethcrl.df-calcapp-wbfunction-rcv-cpu-pod")
    server.objects[key]["data"]["config"] = '{"ips": []}'
    actions = diff(desired, server.objects.values())
    text = render_diff(actions)
    lines = text.splitlines()
    assert lines[0] == f"ConfigMap/cpufunc-calcapp/{key.name} configured"
    assert lines[1] == f"--- live/ConfigMap/cpufunc-calcapp/{key.name}"
    assert lines[2] == f"+++ desired/ConfigMap/cpufunc-calcapp/{key.name}"
    assert "-  config: '{\"ips\": []}'" in lines
    assert "+  config: '{}'" in lines
    assert "managedFields" not in text and "resourceVersion" not in text
    assert diff_exit_code(actions) == 1
    assert diff_exit_code([]) == 0 and render_diff([]) == ""


def test_render_created_and_deleted() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "n"}}
    text = render_diff([Action("create", ObjectKey("ConfigMap", "n", "x"), obj, None)])
    assert text.splitlines()[:3] == [
        "ConfigMap/n/x created",
        "--- /dev/null",
        "+++ desired/ConfigMap/n/x",
    ]
    text = render_diff([Action("delete", ObjectKey("ConfigMap", "n", "x"), None, obj)])
    assert text.splitlines()[:3] == [
        "ConfigMap/n/x deleted",
        "--- live/ConfigMap/n/x",
        "+++ /dev/null",
    ]


def test_a_false_bool_the_server_leaves_out_replaces_nothing() -> None:
    """The p2c1 GPU template says hostNetwork: false; the API server returns no hostNetwork.
    That is the same Pod: a restarted controller must not replace it."""
    engine = engine_with(P2C1)
    server = ApiServerStandIn()
    converge(engine, server)
    pods = [o for o in server.objects.values() if o["kind"] == "Pod"]
    assert any("hostNetwork" not in pod["spec"] for pod in pods)
    desired = [o for o in engine.desired() if o["kind"] == "Pod"]
    assert any(pod["spec"].get("hostNetwork") is False for pod in desired)
    assert diff(engine.desired(), server.objects.values()) == []
    assert not covers({"hostNetwork": True}, {})
