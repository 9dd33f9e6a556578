"""Two tenants of one cluster, each as hostile as their rights allow, against a real API server.

alice owns namespace A and bob namespace B: each may write ConfigMaps and kasugai's resources in
their own namespace, and nothing else (no Pods). Both namespaces enforce Pod Security's
baseline and hold kasugai's account (``manifests/tenant``). One controller serves both. What a
tenant must not get through kasugai: a Pod their namespace forbids, another user's object, the
contents of another namespace, or a controller that stops working for everyone.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from controller_fixtures import *  # noqa: F403
from controller_fixtures import ALL_KINDS, MANIFESTS, inventory, wait_for, wait_for_status
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kasugai.adapters.kube.api import KubeApi
from kasugai.testing import EphemeralCluster
from kasugai.testing.controller import ControllerProcess
from kasugai.testing.inputs import apply_objects, load, relocated
from kasugai.testing.tenants import install_tenant

PORTABLE_CALC = MANIFESTS / "samples" / "calc"
DATAFLOW = "df-calcapp"
SECRET = "sk-TOPSECRET-4f2a9c"  # planted in bob's namespace; must never show up in alice's
BASELINE = {
    "pod-security.kubernetes.io/enforce": "baseline",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


@attrs.frozen
class Tenant:
    user: str
    namespace: str
    api: client.ApiClient  # requests as ``user``


@attrs.frozen
class Tenants:
    alice: Tenant
    bob: Tenant
    controller: ControllerProcess


def _tenant(cluster: EphemeralCluster, kube: client.ApiClient, user: str) -> Tenant:
    namespace = f"{user}-{secrets.token_hex(3)}"
    core = client.CoreV1Api(kube)
    core.create_namespace({"metadata": {"name": namespace, "labels": BASELINE}})
    install_tenant(kube, MANIFESTS / "tenant", namespace)
    rbac = client.RbacAuthorizationV1Api(kube)
    rules = [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]},
        {
            "apiGroups": ["example.com"],
            "resources": ["dataflows", "functionchains", "functiontypes"],
            "verbs": ["*"],
        },
        {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list"]},
    ]
    rbac.create_namespaced_role(namespace, {"metadata": {"name": "tenant"}, "rules": rules})
    binding = {
        "metadata": {"name": "tenant"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tenant"},
        "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}],
    }
    rbac.create_namespaced_role_binding(namespace, binding)
    api = cluster.api_client()
    api.set_default_header("Impersonate-User", user)
    return Tenant(user, namespace, api)


@pytest.fixture
def tenants(
    cluster: EphemeralCluster, kube: client.ApiClient, own_controller: Any
) -> Iterator[Tenants]:
    alice, bob = _tenant(cluster, kube, "alice"), _tenant(cluster, kube, "bob")
    controller = own_controller(
        alice.namespace, "--namespace", bob.namespace, "--leader-elect=false"
    )
    wait_for(controller.ready, "the controller to be ready")
    try:
        yield Tenants(alice, bob, controller)
    finally:
        alice.api.close()
        bob.api.close()


def _calc(namespace: str) -> list[dict[str, Any]]:
    """The portable calc sample (no added capability: it passes baseline) in ``namespace``."""
    return relocated(load(PORTABLE_CALC), namespace)


def _config_entries(objects: list[dict[str, Any]], name: str) -> tuple[dict[str, Any], Any]:
    config = next(o for o in objects if o["metadata"]["name"] == name)
    ((key, text),) = config["data"].items()
    return config, (key, json.loads(text))


def _conditions(kube: client.ApiClient, namespace: str, kind: str, name: str) -> list[Any]:
    found = KubeApi(kube).get(kind, namespace, name) or {}
    return list((found.get("status") or {}).get("conditions") or [])


def _condition_saying(
    kube: client.ApiClient, namespace: str, text: str, kind: str = ""
) -> dict[str, Any] | None:
    """The DataFlow's failing condition (of type ``kind``, if given) whose message has ``text``."""
    for condition in _conditions(kube, namespace, "DataFlow", DATAFLOW):
        if kind and condition["type"] != kind:
            continue
        if condition["status"] == "False" and text in condition["message"]:
            return dict(condition)
    return None


def _status(kube: client.ApiClient, namespace: str, kind: str, name: str) -> str:
    found = KubeApi(kube).get(kind, namespace, name) or {}
    return str((found.get("status") or {}).get("status", ""))


def _created(kube: client.ApiClient, namespace: str, dataflow: str = DATAFLOW) -> bool:
    """Whether the DataFlow's status says every one of its Pods exists."""
    found = KubeApi(kube).get("DataFlow", namespace, dataflow) or {}
    for condition in (found.get("status") or {}).get("conditions") or []:
        if condition["type"] == "PodsCreated":
            return bool(condition["status"] == "True")
    return False


def _everything_in(kube: client.ApiClient, namespace: str) -> str:
    """Every kasugai resource, Event and ConfigMap of ``namespace``, as one text."""
    api = KubeApi(kube)
    found: list[Any] = []
    for kind in ("DataFlow", "FunctionChain", "FunctionType", "Event", *ALL_KINDS):
        found.extend(api.list(kind, namespace)[0])
    return json.dumps(found)


def test_a_pod_the_namespace_forbids_is_refused_and_said_so(
    kube: client.ApiClient, tenants: Tenants
) -> None:
    alice = tenants.alice
    pod_path = f"/api/v1/namespaces/{alice.namespace}/pods"
    with pytest.raises(ApiException) as refused:  # alice may not create Pods herself ...
        KubeApi(alice.api).create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "x", "namespace": alice.namespace},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            }
        )
    assert refused.value.status == 403, pod_path

    # ... nor get one through kasugai that her namespace's Pod Security forbids.
    inputs = _calc(alice.namespace)
    config, (key, entries) = _config_entries(inputs, "cpufunc-config-calcapp-plus")
    template = entries[-1]["template"]["spec"]
    template.update(hostNetwork=True, hostIPC=True)
    template["volumes"].append({"name": "root", "hostPath": {"path": "/"}})
    app = template["containers"][0]
    app["securityContext"] = {
        "privileged": True,
        "runAsUser": 0,
        "capabilities": {"add": ["SYS_ADMIN"]},
    }
    app["volumeMounts"].append({"name": "root", "mountPath": "/host"})
    config["data"][key] = json.dumps(entries)
    apply_objects(alice.api, inputs)

    plus = "df-calcapp-wbfunction-plus-cpu-pod"
    condition = wait_for(
        lambda: _condition_saying(kube, alice.namespace, "violates PodSecurity"),
        "the DataFlow to say Pod Security refused the Pod",
    )
    assert condition["type"] == "Applied" and plus in condition["message"]
    assert "privileged" in condition["message"] and "hostNetwork" in condition["message"]
    assert KubeApi(kube).get("Pod", alice.namespace, plus) is None
    # The other functions run: one refused Pod stops nothing else.
    pods = {name for kind, name in inventory(kube, alice.namespace) if kind == "Pod"}
    assert len(pods) == 6 and plus not in pods
    events = KubeApi(kube).list("Event", alice.namespace)[0]
    assert any(e["reason"] == "ApplyFailed" and plus in e["message"] for e in events)


def test_another_users_objects_are_never_taken_over_or_deleted(
    kube: client.ApiClient, tenants: Tenants
) -> None:
    namespace = tenants.alice.namespace
    api = KubeApi(kube)  # carol, a colleague of alice's, made these before alice's DataFlow
    theirs = api.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "df-calcapp-wbfunction-minus-service", "namespace": namespace},
            "spec": {"selector": {"app": "carol"}, "ports": [{"port": 9000}]},
        }
    )
    # A ConfigMap dressed up as kasugai's: its label alone makes nothing kasugai's.
    forged = api.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "ethcrl.df-calcapp-wbfunction-plus-cpu-pod",
                "namespace": namespace,
                "labels": {
                    "app.kubernetes.io/managed-by": "kasugai",
                    "kasugai.io/dataflow": DATAFLOW,
                },
            },
            "data": {"config": '{"ips": ["10.0.0.1"]}'},
        }
    )
    apply_objects(tenants.alice.api, _calc(namespace))
    condition = wait_for(
        lambda: _condition_saying(
            kube, namespace, "ethcrl.df-calcapp-wbfunction-plus-cpu-pod", "Resolved"
        ),
        "a condition naming the forged ConfigMap",
    )
    assert condition["reason"] == "Conflict"
    assert (
        "not this DataFlow's" in condition["message"]
        and "no DataFlow controls it" in (condition["message"])
    )
    events = api.list("Event", namespace)[0]
    assert any("not this DataFlow's" in e["message"] for e in events)

    # carol removes her forged ConfigMap: kasugai goes on, and finds her Service in its way.
    api.delete("ConfigMap", namespace, forged["metadata"]["name"])
    condition = wait_for(
        lambda: _condition_saying(
            kube, namespace, "df-calcapp-wbfunction-minus-service", "Resolved"
        ),
        "a condition naming carol's Service",
    )
    assert condition["reason"] == "Conflict" and "it has no controller" in condition["message"]
    client.CustomObjectsApi(tenants.alice.api).delete_namespaced_custom_object(
        "example.com", "v1", namespace, "dataflows", DATAFLOW
    )
    wait_for(lambda: not inventory(kube, namespace, ALL_KINDS), "alice's objects to go")
    after = api.get("Service", namespace, "df-calcapp-wbfunction-minus-service")
    assert after is not None
    assert after["metadata"]["resourceVersion"] == theirs["metadata"]["resourceVersion"]
    assert after["spec"]["selector"] == {"app": "carol"}


def test_a_reference_into_a_namespace_one_may_not_read_is_refused_without_its_contents(
    kube: client.ApiClient, tenants: Tenants
) -> None:
    alice, bob = tenants.alice, tenants.bob
    # bob's functioninfo, malformed so that an error message quoting it would show the secret.
    apply_objects(
        bob.api,
        [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "bobs-info", "namespace": bob.namespace},
                "data": {"deployableItems": json.dumps(SECRET), "spec": json.dumps(SECRET)},
            }
        ],
    )
    inputs = _calc(alice.namespace)
    plus = next(o for o in inputs if o["metadata"]["name"] == "functype-calcapp-plus")
    plus["spec"]["functionInfoCMRef"] = {"name": "bobs-info", "namespace": bob.namespace}
    apply_objects(alice.api, inputs)

    def refused() -> str | None:
        name = plus["metadata"]["name"]
        for condition in _conditions(kube, alice.namespace, "FunctionType", name):
            if "may not get ConfigMap" in condition["message"]:
                return str(condition["message"])
        return None

    message = wait_for(refused, "the FunctionType to say it may not read bob's ConfigMap")
    assert f"ServiceAccount {alice.namespace}/kasugai-dataflow" in message
    assert f"ConfigMap {bob.namespace}/bobs-info" in message
    flow = wait_for_status(kube, alice.namespace, DATAFLOW, "Error")
    assert "may not get ConfigMap" in flow["status"]["message"]
    assert SECRET not in _everything_in(kube, alice.namespace)
    assert SECRET not in json.dumps(tenants.controller.log())


def test_a_reference_into_another_namespace_is_followed_where_reading_it_is_allowed(
    kube: client.ApiClient, tenants: Tenants
) -> None:
    alice, bob = tenants.alice, tenants.bob
    shared = relocated(load(PORTABLE_CALC), bob.namespace)
    infos = [o for o in shared if o["kind"] == "ConfigMap" and "deployableItems" in o["data"]]
    apply_objects(bob.api, infos)
    # bob lets alice's kasugai account read his functioninfos, and nothing else of his.
    rbac = client.RbacAuthorizationV1Api(kube)
    names = [o["metadata"]["name"] for o in infos]
    rbac.create_namespaced_role(
        bob.namespace,
        {
            "metadata": {"name": "share-infos"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["configmaps"],
                    "verbs": ["get"],
                    "resourceNames": names,
                }
            ],
        },
    )
    rbac.create_namespaced_role_binding(
        bob.namespace,
        {
            "metadata": {"name": "share-infos"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "share-infos",
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": "kasugai-dataflow", "namespace": alice.namespace}
            ],
        },
    )
    inputs = [
        o
        for o in _calc(alice.namespace)
        if not (o["kind"] == "ConfigMap" and "deployableItems" in o["data"])
    ]
    for obj in inputs:
        if obj["kind"] == "FunctionType":
            obj["spec"]["functionInfoCMRef"]["namespace"] = bob.namespace
    apply_objects(alice.api, inputs)
    wait_for(lambda: _created(kube, alice.namespace), "the DataFlow's Pods")
    for obj in inputs:
        if obj["kind"] == "FunctionType":
            name = obj["metadata"]["name"]
            wait_for(
                lambda name=name: _status(kube, alice.namespace, "FunctionType", name) == "Ready",
                f"FunctionType {name} to be Ready",
            )


def test_names_that_could_be_another_dataflows_are_refused(
    kube: client.ApiClient, tenants: Tenants
) -> None:
    """DataFlow x with function key y-wbfunction-z would name the objects of DataFlow
    x-wbfunction-y's function z: such a key is refused, and the other DataFlow runs."""
    namespace = tenants.alice.namespace
    inputs = _calc(namespace)
    template = next(o for o in inputs if o["kind"] == "FunctionChain")
    flow = next(o for o in inputs if o["kind"] == "DataFlow")
    others = [o for o in inputs if o["kind"] not in ("FunctionChain", "DataFlow")]

    def single(chain: str, key: str, dataflow: str) -> list[dict[str, Any]]:
        spec = {**template["spec"], "functions": {key: template["spec"]["functions"]["rcv"]}}
        spec["connections"] = [
            {
                "from": {"functionKey": "wb-start-of-chain", "port": 0},
                "to": {"functionKey": key, "port": 0},
            },
            {
                "from": {"functionKey": key, "port": 0},
                "to": {"functionKey": "wb-end-of-chain", "port": 0},
            },
        ]
        chained = {**template, "metadata": {"name": chain, "namespace": namespace}, "spec": spec}
        df = {
            **flow,
            "metadata": {"name": dataflow, "namespace": namespace},
            "spec": {"functionChainRef": {"name": chain, "namespace": namespace}},
        }
        return [chained, df]

    apply_objects(
        tenants.alice.api,
        [
            *others,
            *single("sneaky", "y-wbfunction-z", "x"),
            *single("plain", "z", "x-wbfunction-y"),
        ],
    )
    sneaky = wait_for_status(kube, namespace, "x", "Error")
    assert "may not contain 'wbfunction'" in sneaky["status"]["message"]
    wait_for(lambda: _created(kube, namespace, "x-wbfunction-y"), "x-wbfunction-y's Pod")
    pod = KubeApi(kube).get("Pod", namespace, "x-wbfunction-y-wbfunction-z-cpu-pod")
    assert pod is not None
    (owner,) = pod["metadata"]["ownerReferences"]
    assert owner["name"] == "x-wbfunction-y"


HOSTILE_VALUES = {
    "digits": "1" * 5000,  # beyond Python's int-digits limit as a JSON number
    "brackets": "[" * 100_000,
    "nested-json": "[" * 5000 + "]" * 5000,
    "nested-yaml": "".join(f"{' ' * i}k:\n" for i in range(1000)) + " " * 1000 + "v",
    "big": "x" * 900_000,
}


def test_hostile_configmaps_stop_nothing_and_a_restart_rewrites_nothing(
    kube: client.ApiClient, tenants: Tenants, own_controller: Any
) -> None:
    alice, bob = tenants.alice, tenants.bob
    # bob's ConfigMaps: referenced by nothing, each a value that once crashed the controller.
    apply_objects(
        bob.api,
        [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"hostile-{name}", "namespace": bob.namespace},
                "data": {"deployableItems": value},
            }
            for name, value in HOSTILE_VALUES.items()
        ],
    )
    # ... and a FunctionType of his that refers to one, so that kasugai must read it.
    bad_type = {
        "apiVersion": "example.com/v1",
        "kind": "FunctionType",
        "metadata": {"name": "hostile", "namespace": bob.namespace},
        "spec": {
            "functionName": "hostile",
            "version": "1",
            "functionInfoCMRef": {"name": "hostile-brackets", "namespace": bob.namespace},
        },
    }
    apply_objects(bob.api, [bad_type])
    apply_objects(alice.api, _calc(alice.namespace))
    wait_for(lambda: _created(kube, alice.namespace), "alice's Pods")

    def type_error() -> str | None:
        found = KubeApi(kube).get("FunctionType", bob.namespace, "hostile") or {}
        status = found.get("status") or {}
        return str(status.get("message")) if status.get("status") == "Error" else None

    message = wait_for(type_error, "bob's FunctionType to be Error")
    assert "deployableItems" in message
    assert tenants.controller.ready()
    assert not tenants.controller.process.exited()

    # A restart with all of it still there comes up, and writes nothing that did not change.
    tenants.controller.process.stop()
    before = _versions(kube, alice.namespace)
    again = own_controller(
        alice.namespace, "--namespace", bob.namespace, "--leader-elect=false", name="again"
    )
    wait_for(again.ready, "the restarted controller to be ready")
    wait_for(lambda: again.total("kasugai_controller_reconciles_total") > 0, "a reconcile pass")
    time.sleep(3)  # the window in which nothing may be written, not a timing assertion
    assert _versions(kube, alice.namespace) == before
    assert again.writes() - again.writes(kind="Event") == 0


def _versions(kube: client.ApiClient, namespace: str) -> dict[Any, str]:
    """resourceVersion of each of kasugai's objects and of the DataFlow (its status)."""
    found = {
        key: obj["metadata"]["resourceVersion"]
        for key, obj in inventory(kube, namespace, ALL_KINDS).items()
    }
    flow = KubeApi(kube).get("DataFlow", namespace, DATAFLOW) or {}
    found[("DataFlow", DATAFLOW)] = flow["metadata"]["resourceVersion"]
    return found
