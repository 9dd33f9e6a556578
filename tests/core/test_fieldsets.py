"""Field sets (``kasugai.core.fieldsets``): what kasugai applied and no longer sets is removed,
what other managers own is kept; and lists another manager changed are taken back
(``kasugai.core.takeover``). The field sets in the examples are as a real kube-apiserver wrote
them; the cluster tier checks the same against one."""

from __future__ import annotations

import copy
import json
from typing import Any

from core_helpers import CALC, ApiServerStandIn, converge, engine_with
from hypothesis import given
from hypothesis import strategies as st

from kasugai.commands.diff import render_diff
from kasugai.core.diff import diff, object_key
from kasugai.core.events import ObjectKey, Observed
from kasugai.core.fieldsets import (
    applied_fields,
    json_patch,
    kept_entries,
    removals,
    unclaimed,
)
from kasugai.core.takeover import restore_lists


def fields_of(obj: Any) -> dict[str, Any]:
    """The field set an apply of ``obj`` records, for the shapes these tests use: maps, lists
    of objects named by ``name`` (env, containers), lists of values (finalizers)."""
    if isinstance(obj, dict):
        return {f"f:{k}": fields_of(v) for k, v in obj.items()}
    if isinstance(obj, list) and all(isinstance(i, dict) and "name" in i for i in obj):
        return {
            "k:" + json.dumps({"name": i["name"]}, separators=(",", ":")): {
                ".": {},
                **fields_of(i),
            }
            for i in obj
        }
    if isinstance(obj, list):
        return {"v:" + json.dumps(i): {} for i in obj}
    return {}


def entry(manager: str, fields: dict[str, Any], operation: str = "Apply") -> dict[str, Any]:
    return {
        "manager": manager,
        "operation": operation,
        "apiVersion": "v1",
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }


def patched(obj: dict[str, Any], operations: list[dict[str, Any]]) -> dict[str, Any]:
    """A JSON patch of ``test``, ``remove`` and ``replace`` operations, applied as the API
    server would."""
    result = copy.deepcopy(obj)
    for op in operations:
        *parents, last = [
            p.replace("~1", "/").replace("~0", "~") for p in op["path"][1:].split("/")
        ]
        node: Any = result
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        index: Any = int(last) if isinstance(node, list) else last
        if op["op"] == "test":
            assert node[index] == op["value"], "the patch's version test fails"
        elif op["op"] == "replace":
            node[index] = copy.deepcopy(op["value"])
        else:
            assert op["op"] == "remove"
            del node[index]
    return result


def pod(labels: dict[str, str], env: list[dict[str, str]]) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "x"}
    if env:
        container["env"] = env
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "n", "labels": labels, "resourceVersion": "7"},
        "spec": {"containers": [container]},
    }


# --- examples ---------------------------------------------------------------------------------

SERVICE_FIELDS = {  # kasugai's Apply entry of a Service, as the API server recorded it
    "f:metadata": {"f:labels": {"f:a": {}, "f:gone": {}}},
    "f:spec": {
        "f:ports": {
            'k:{"port":8080,"protocol":"TCP"}': {
                ".": {},
                "f:name": {},
                "f:port": {},
                "f:protocol": {},
                "f:targetPort": {},
            },
            'k:{"port":9090,"protocol":"TCP"}': {".": {}, "f:name": {}, "f:port": {}},
        },
        "f:selector": {},
        "f:type": {},
    },
}


def service(ports: list[int], labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s", "namespace": "n", "labels": labels, "resourceVersion": "3"},
        "spec": {
            "type": "ClusterIP",
            "selector": {"x": "y"},
            "ports": [
                {"name": f"tcp-{p}", "port": p, "targetPort": p, "protocol": "TCP"} for p in ports
            ],
        },
    }


def test_a_label_and_a_port_kasugai_no_longer_sets_are_removed() -> None:
    live = service([8080, 9090], {"a": "1", "gone": "2", "theirs": "3"})
    desired = service([8080], {"a": "1"})
    found = removals(desired, live, SERVICE_FIELDS)
    assert sorted(map(str, found)) == ["/metadata/labels/gone", "/spec/ports/1"]
    after = patched(live, json_patch(live, found))
    assert after["metadata"]["labels"] == {"a": "1", "theirs": "3"}
    assert [p["port"] for p in after["spec"]["ports"]] == [8080]


def test_a_field_another_manager_owns_too_is_kept() -> None:
    live = service([8080], {"a": "1", "gone": "2"})
    desired = service([8080], {"a": "1"})
    theirs = {"f:metadata": {"f:labels": {"f:gone": {}}}}
    assert removals(desired, live, SERVICE_FIELDS, [theirs]) == []


def test_nothing_is_removed_when_nothing_was_dropped_or_it_is_gone_already() -> None:
    live = service([8080], {"a": "1"})
    assert removals(service([8080, 9090], {"a": "1", "gone": "2"}), live, SERVICE_FIELDS) == []
    assert removals(live, live, SERVICE_FIELDS) == []  # ports 9090 and label gone are not live
    assert removals(live, live, {}) == []  # no record: nothing is removed


def test_values_of_a_set_and_items_removed_from_the_end_first() -> None:
    live = {"metadata": {"resourceVersion": "1", "finalizers": ["a", "b", "c", "d"]}}
    owned = {"f:metadata": {"f:finalizers": {'v:"b"': {}, 'v:"d"': {}, 'v:"a"': {}}}}
    desired = {"metadata": {"finalizers": ["a"]}}
    found = removals(desired, live, owned)
    operations = json_patch(live, found)
    assert operations[0] == {"op": "test", "path": "/metadata/resourceVersion", "value": "1"}
    assert [op["path"] for op in operations[1:]] == [
        "/metadata/finalizers/3",
        "/metadata/finalizers/1",
    ]
    assert patched(live, operations)["metadata"]["finalizers"] == ["a", "c"]


def test_hostile_field_sets_are_ignored_not_fatal() -> None:
    live = service([8080], {"a": "1"})
    for owned in (
        {"f:spec": {"f:ports": {"k:" + "[" * 100_000: {}}}},
        {"f:spec": {"f:ports": {"k:not json": {}, 'v:"x': {}, "x:y": {}}}},
        {"f:spec": "not a map", "f:metadata": {"f:labels": ["a"]}},
        {"f:metadata": {"f:labels": {"f:a/b~c": {}}}},
    ):
        assert removals({}, live, owned) == []


def test_pointers_escape_slashes_and_tildes() -> None:
    live = {"metadata": {"resourceVersion": "1", "labels": {"example.com/a~b": "x"}}}
    owned = {"f:metadata": {"f:labels": {"f:example.com/a~b": {}}}}
    (found,) = removals({"metadata": {"labels": {}}}, live, owned)
    assert str(found) == "/metadata/labels/example.com~1a~0b"
    assert patched(live, json_patch(live, [found]))["metadata"]["labels"] == {}


def test_kasugais_apply_entry_is_the_record_and_the_only_one_kept() -> None:
    ours = entry("kasugai", SERVICE_FIELDS)
    status = {**entry("kasugai", {"f:status": {}}), "subresource": "status"}
    created = entry("kasugai", {"f:spec": {"f:sessionAffinity": {}}}, "Update")
    theirs = entry("kubectl-edit", {"f:spec": {}}, "Update")
    obj = {"metadata": {"managedFields": [status, created, theirs, ours]}}
    assert applied_fields(obj) == SERVICE_FIELDS
    assert kept_entries(obj["metadata"]["managedFields"]) == [ours]
    assert not unclaimed(obj)
    assert unclaimed({"metadata": {"managedFields": [created, status]}})
    assert unclaimed({"metadata": {"managedFields": []}})
    assert not unclaimed({"metadata": {}})  # offline: no record at all


# --- the diff ----------------------------------------------------------------------------------


def recorded(obj: dict[str, Any], fields_from: dict[str, Any]) -> dict[str, Any]:
    """``obj`` as the cluster shows it after kasugai applied ``fields_from``."""
    shown = copy.deepcopy(obj)
    shown["metadata"]["managedFields"] = [entry("kasugai", fields_of_object(fields_from))]
    return shown


def test_diff_a_removed_label_of_a_pod_is_a_patch_a_removed_env_entry_a_replace() -> None:
    before = pod({"a": "1", "b": "2"}, [{"name": "A", "value": "1"}])
    live = recorded(before, before)
    key = ObjectKey("Pod", "n", "p")
    assert diff([before], [live]) == []

    (patch,) = diff([pod({"a": "1"}, [{"name": "A", "value": "1"}])], [live])
    assert (patch.verb, patch.key, [str(r) for r in patch.removed]) == (
        "patch",
        key,
        ["/metadata/labels/b"],
    )
    (replace,) = diff([pod({"a": "1", "b": "2"}, [])], [live])  # the last env entry: no env
    assert (replace.verb, [str(r) for r in replace.removed]) == (
        "replace",
        ["/spec/containers/0/env/0"],
    )


def test_diff_claims_a_cluster_object_kasugai_never_applied() -> None:
    desired = pod({"a": "1"}, [])
    created = {**copy.deepcopy(desired)}
    created["metadata"]["managedFields"] = [entry("kasugai", {}, "Update")]
    (action,) = diff([desired], [created])
    assert (action.verb, action.removed) == ("patch", ())
    assert diff([desired], [copy.deepcopy(desired)]) == []  # offline: nothing to claim


@given(
    st.dictionaries(st.sampled_from("abcdef"), st.sampled_from("xyz"), max_size=6),
    st.dictionaries(st.sampled_from("abcdef"), st.sampled_from("xyz"), max_size=6),
    st.dictionaries(st.sampled_from("ghij"), st.sampled_from("xyz"), max_size=3),
    st.lists(st.sampled_from("ABCDE"), unique=True, max_size=5),
    st.lists(st.sampled_from("ABCDE"), unique=True, max_size=5),
)
def test_removal_leaves_exactly_what_is_wanted_and_what_others_set(
    labels_before: dict[str, str],
    labels_after: dict[str, str],
    foreign: dict[str, str],
    env_before: list[str],
    env_after: list[str],
) -> None:
    """Apply ``before``, let another manager add labels, then want ``after``: once the removals
    are patched out, the object holds ``after``'s fields and the other manager's, nothing else."""
    before = pod(labels_before, [{"name": n, "value": "v"} for n in env_before])
    after = pod(labels_after, [{"name": n, "value": "v"} for n in env_after])
    live = recorded(before, before)
    live["metadata"]["labels"] = {**foreign, **labels_before}
    theirs = {"f:metadata": {"f:labels": {f"f:{k}": {} for k in foreign}}}
    found = removals(after, live, applied_fields(live), [theirs])
    result = patched(live, json_patch(live, found))
    assert set(result["metadata"]["labels"]) == set(labels_before) & set(labels_after) | set(
        foreign
    )
    env = result["spec"]["containers"][0].get("env", [])
    assert [e["name"] for e in env] == [n for n in env_before if n in env_after]
    # Then the apply adds what is missing; nothing more is to be removed.
    assert removals(after, result, fields_of_object(after)) == []


def fields_of_object(obj: dict[str, Any]) -> dict[str, Any]:
    """The field set of an applied object (what a server records of ``metadata`` and ``spec``)."""
    return {f"f:{k}": fields_of(v) for k, v in obj.items() if k in ("metadata", "spec")}


# --- taking lists back -------------------------------------------------------------------------


def test_a_port_edited_by_hand_gets_its_list_restored_keeping_server_fields() -> None:
    desired = service([8080], {"a": "1"})
    live = service([8080], {"a": "1"})
    live["spec"]["ports"][0].update(port=9999, nodePort=30001)
    (test, replace) = restore_lists(desired, live)
    assert test == {"op": "test", "path": "/metadata/resourceVersion", "value": "3"}
    assert replace == {
        "op": "replace",
        "path": "/spec/ports",
        "value": [
            {
                "name": "tcp-8080",
                "port": 8080,
                "targetPort": 8080,
                "protocol": "TCP",
                "nodePort": 30001,
            }
        ],
    }


def test_an_extra_item_blocks_a_matched_item_with_another_value_does_not() -> None:
    desired = service([8080], {})
    extra = service([8080, 7070], {})
    (_, replace) = restore_lists(desired, extra)
    assert [p["port"] for p in replace["value"]] == [8080]
    changed = service([8080], {})
    changed["spec"]["ports"][0]["targetPort"] = 1234  # an apply takes that back by itself
    assert restore_lists(desired, changed) == []
    assert restore_lists(desired, service([8080], {})) == []


def test_a_list_inside_list_items_is_restored_at_its_own_depth() -> None:
    desired = pod({}, [{"name": "A", "value": "1"}])
    live = pod({}, [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    live["spec"]["containers"].append({"name": "sidecar", "image": "y"})
    live["spec"]["containers"].reverse()  # the order the server keeps is not ours
    desired["spec"]["containers"].append({"name": "sidecar", "image": "y"})
    (_, replace) = restore_lists(desired, live)
    assert replace["path"] == "/spec/containers/1/env"
    assert replace["value"] == [{"name": "A", "value": "1"}]


def test_the_service_account_token_volume_the_server_added_stays() -> None:
    token = {"name": "kube-api-access-x1", "projected": {}}
    desired = {"metadata": {}, "spec": {"volumes": [{"name": "v", "emptyDir": {}}]}}
    live = {
        "metadata": {"resourceVersion": "2"},
        "spec": {
            "volumes": [{"name": "old", "emptyDir": {}}, token, {"name": "v", "emptyDir": {}}]
        },
    }
    (_, replace) = restore_lists(desired, live)
    assert replace["value"] == [{"name": "v", "emptyDir": {}}, token]


def test_a_port_edited_by_hand_never_reaches_the_upstream_connection() -> None:
    engine = engine_with(CALC)
    server = ApiServerStandIn()
    converge(engine, server)
    namespace = "cpufunc-calcapp"
    configmap = ObjectKey("ConfigMap", namespace, "ethcrl.df-calcapp-wbfunction-plus-cpu-pod")
    before = json.loads(server.objects[configmap]["data"]["config"])
    assert before["ports"] == [{"port": 8080, "protocol": "TCP"}]

    key = ObjectKey("Service", namespace, "df-calcapp-wbfunction-minus-service")
    edited = copy.deepcopy(server.objects[key])
    edited["spec"]["ports"][0]["port"] = 9999
    edited["metadata"]["resourceVersion"] = "edited"
    engine.apply_all([Observed.of(edited)])
    actions = diff(engine.desired(), [*server.objects.values(), edited])
    assert [(a.verb, a.key) for a in actions] == [("patch", key)]  # the Service is put back
    wanted = next(o for o in engine.desired() if object_key(o) == configmap)
    assert json.loads(wanted["data"]["config"]) == before


def test_render_shows_what_would_be_removed_and_not_what_others_set() -> None:
    before = pod({"a": "1", "b": "2"}, [{"name": "A", "value": "1"}])
    live = recorded(before, before)
    live["metadata"]["labels"]["theirs"] = "3"
    actions = diff([pod({"a": "1"}, [])], [live])
    lines = render_diff(actions).splitlines()
    assert lines[0] == "Pod/n/p configured"
    assert "-    b: '2'" in lines
    assert "-    - name: A" in lines
    assert not [line for line in lines if "theirs" in line]


@given(
    st.lists(st.sampled_from([80, 443, 8080, 9090]), min_size=1, unique=True),
    st.lists(st.sampled_from([80, 443, 8080, 9090, 9999]), unique=True),
    st.dictionaries(st.integers(0, 3), st.sampled_from([1234, 9999])),
)
def test_restored_lists_are_exactly_the_wanted_ones(
    wanted: list[int], live_ports: list[int], renamed: dict[int, int]
) -> None:
    """Whatever another manager did to the ports (added, dropped, renumbered), once the
    takeover's patch is applied no item stands in the way of kasugai's apply."""
    desired = service(wanted, {})
    live = service(live_ports, {})
    for index, port in renamed.items():
        if index < len(live_ports):
            live["spec"]["ports"][index]["port"] = port
    result = patched(live, restore_lists(desired, live))
    ports = result["spec"]["ports"]
    names = [p["name"] for p in ports]
    assert len(names) == len(set(names)), "a duplicate name: the apply would be refused"
    # Every item left is one of kasugai's, with its port: the apply adds the missing ones and
    # finds nothing of another manager's in the way.
    assert {(p["name"], p["port"]) for p in ports} <= {
        (p["name"], p["port"]) for p in desired["spec"]["ports"]
    }
    assert restore_lists(desired, result) == []
