"""The cluster tier is a real API server: watch resume, Server-Side Apply conflicts, optimistic
concurrency, CRD schema validation, RBAC and service-account tokens all behave as Kubernetes'."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from kasugai.testing import EphemeralCluster

APPLY = "application/apply-patch+yaml"


def _configmap(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def _watch_events(
    core: client.CoreV1Api, namespace: str, resource_version: str, count: int
) -> list[tuple[str, str, dict[str, str]]]:
    """The first ``count`` events after ``resource_version``: (type, resourceVersion, data)."""
    events = []
    stream = watch.Watch()
    for event in stream.stream(
        core.list_namespaced_config_map,
        namespace,
        resource_version=resource_version,
        timeout_seconds=60,
    ):
        obj = event["object"]
        events.append((event["type"], obj.metadata.resource_version, dict(obj.data or {})))
        if len(events) == count:
            stream.stop()
    return events


def test_configmap_watch_resumes_from_a_resource_version(
    kube: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube)
    created = core.create_namespaced_config_map(namespace, _configmap("watched", {"n": "0"}))
    assert core.read_namespaced_config_map("watched", namespace).data == {"n": "0"}
    for n in ("1", "2"):
        core.patch_namespaced_config_map("watched", namespace, {"data": {"n": n}})

    seen = _watch_events(core, namespace, created.metadata.resource_version, count=2)
    assert [(kind, data) for kind, _, data in seen] == [
        ("MODIFIED", {"n": "1"}),
        ("MODIFIED", {"n": "2"}),
    ]
    # A client that saw only the first event resumes from its version and misses nothing.
    resumed = _watch_events(core, namespace, seen[0][1], count=1)
    assert [(kind, data) for kind, _, data in resumed] == [("MODIFIED", {"n": "2"})]


def test_server_side_apply_conflict_between_field_managers(
    kube: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube)
    core.patch_namespaced_config_map(
        "shared",
        namespace,
        _configmap("shared", {"color": "red"}),
        field_manager="alice",
        _content_type=APPLY,
    )
    with pytest.raises(ApiException) as conflict:
        core.patch_namespaced_config_map(
            "shared",
            namespace,
            _configmap("shared", {"color": "blue"}),
            field_manager="bob",
            _content_type=APPLY,
        )
    assert conflict.value.status == 409
    causes = json.loads(conflict.value.body)["details"]["causes"]
    assert causes == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "alice"',
            "field": ".data.color",
        }
    ]

    forced = core.patch_namespaced_config_map(
        "shared",
        namespace,
        _configmap("shared", {"color": "blue"}),
        field_manager="bob",
        force=True,
        _content_type=APPLY,
    )
    assert forced.data == {"color": "blue"}
    managers = {entry.manager for entry in forced.metadata.managed_fields}
    assert "bob" in managers and "alice" not in managers


def test_update_with_a_stale_resource_version_is_a_conflict(
    kube: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube)
    core.create_namespaced_config_map(namespace, _configmap("versioned", {"n": "0"}))
    stale = core.read_namespaced_config_map("versioned", namespace)
    core.patch_namespaced_config_map("versioned", namespace, {"data": {"n": "1"}})

    stale.data = {"n": "stale"}
    with pytest.raises(ApiException) as conflict:
        core.replace_namespaced_config_map("versioned", namespace, stale)
    assert conflict.value.status == 409
    assert "the object has been modified" in conflict.value.body
    assert core.read_namespaced_config_map("versioned", namespace).data == {"n": "1"}


def _poll(check: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _can_list_configmaps(api: client.ApiClient, namespace: str) -> bool:
    try:
        client.CoreV1Api(api).list_namespaced_config_map(namespace)
    except ApiException as error:
        if error.status != 403:
            raise
        return False
    return True


def test_service_account_is_denied_until_a_role_allows_it(
    cluster: EphemeralCluster, kube: client.ApiClient, namespace: str
) -> None:
    with cluster.impersonating_client(namespace, "reader") as reader:
        with pytest.raises(ApiException) as denied:
            client.CoreV1Api(reader).list_namespaced_config_map(namespace)
        assert denied.value.status == 403
        assert f"system:serviceaccount:{namespace}:reader" in denied.value.body

        rbac = client.RbacAuthorizationV1Api(kube)
        rbac.create_namespaced_role(
            namespace,
            {
                "metadata": {"name": "configmap-reader"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}],
            },
        )
        rbac.create_namespaced_role_binding(
            namespace,
            {
                "metadata": {"name": "reader"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "configmap-reader",
                },
                "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}],
            },
        )
        # The authorizer sees new bindings through its informer: allowed soon, not at once.
        assert _poll(lambda: _can_list_configmaps(reader, namespace))
        assert not _can_list_configmaps(reader, "default")


def test_service_account_tokens_are_signed_and_authenticate(
    cluster: EphemeralCluster, kube: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "robot"}})
    token = core.create_namespaced_service_account_token(
        "robot", namespace, {"spec": {"expirationSeconds": 600}}
    ).status.token

    as_robot = client.Configuration(
        host=cluster.server,
        api_key={"authorization": f"Bearer {token}"},
        ssl_ca_cert=str(cluster.credentials.ca_cert),
    )
    with client.ApiClient(as_robot) as robot:
        review = client.AuthenticationV1Api(robot).create_self_subject_review({})
    assert review.status.user_info.username == f"system:serviceaccount:{namespace}:robot"
    assert f"system:serviceaccounts:{namespace}" in review.status.user_info.groups


def test_invalid_dataflow_is_rejected_naming_the_field(
    kube: client.ApiClient, namespace: str
) -> None:
    dataflow = {
        "apiVersion": "example.com/v1",
        "kind": "DataFlow",
        "metadata": {"name": "broken"},
        "spec": {"functionChainRef": {"name": 7}},
    }
    with pytest.raises(ApiException) as invalid:
        client.CustomObjectsApi(kube).create_namespaced_custom_object(
            "example.com", "v1", namespace, "dataflows", dataflow
        )
    assert invalid.value.status == 422
    assert "spec.functionChainRef.name" in invalid.value.body
    assert "must be of type string" in invalid.value.body


def test_pods_and_services_need_no_kubelet_or_controllers(
    kube: client.ApiClient, namespace: str
) -> None:
    """Tests play the kubelet and the load-balancer: Pods are accepted without a service account
    object, and status is theirs to write."""
    core = client.CoreV1Api(kube)
    pod = {
        "metadata": {"name": "fn", "labels": {"app": "fn"}},
        "spec": {"containers": [{"name": "c", "image": "example.invalid/fn:1"}]},
    }
    core.create_namespaced_pod(namespace, pod)
    core.patch_namespaced_pod_status(
        "fn", namespace, {"status": {"phase": "Running", "podIP": "127.0.1.1"}}
    )
    assert core.read_namespaced_pod("fn", namespace).status.phase == "Running"

    service = {
        "metadata": {"name": "fn"},
        "spec": {"type": "LoadBalancer", "selector": {"app": "fn"}, "ports": [{"port": 8080}]},
    }
    created = core.create_namespaced_service(namespace, service)
    assert created.spec.cluster_ip.startswith("10.96.")
    core.patch_namespaced_service_status(
        "fn", namespace, {"status": {"loadBalancer": {"ingress": [{"ip": "127.0.2.1"}]}}}
    )
    ingress = core.read_namespaced_service("fn", namespace).status.load_balancer.ingress
    assert [entry.ip for entry in ingress] == ["127.0.2.1"]
