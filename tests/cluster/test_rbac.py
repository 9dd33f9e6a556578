"""``manifests/`` on a real API server: ``kubectl apply -k`` accepts it, the controller runs as its
own ServiceAccount with exactly the permissions it uses and nothing more (workloads only as the
namespaces' kasugai account), a watch that loses them shows in readiness and recovers, and a
function Pod's account reads only its own connection ConfigMap, all the way from the
controller's ConfigMap to a SIGHUP."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml
from controller_fixtures import *  # noqa: F403
from controller_fixtures import (
    MANIFESTS,
    SAMPLES,
    calc_inputs,
    service_account_kubeconfig,
    wait_for,
    wait_for_status,
)
from kasugai_sidecar.testing import start_function, start_sidecar
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kasugai.adapters.kube.api import (
    IMPERSONATION,
    LEASE_PERMISSIONS,
    PERMISSIONS,
    WORKLOAD_PERMISSIONS,
    KubeApi,
    load_api_client,
)
from kasugai.core import names
from kasugai.testing import EphemeralCluster
from kasugai.testing.inputs import apply_objects

CONTROLLER_NAMESPACE = "kasugai-system"
CONTROLLER_ACCOUNT = "kasugai-controller"


def _rules(
    kind: str, name: str, path: Path = MANIFESTS / "rbac.yaml"
) -> dict[tuple[str, str], tuple[str, ...]]:
    """(apiGroup, resource) -> sorted verbs of a Role or ClusterRole in a manifest; a rule with
    resourceNames counts as (apiGroup, resource, names...)."""
    documents = yaml.safe_load_all(path.read_text())
    role = next(d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name)
    found: dict[tuple[str, ...], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                key = (group, resource, *rule.get("resourceNames", ()))
                found.setdefault(key, set()).update(rule["verbs"])
    return {key: tuple(sorted(verbs)) for key, verbs in found.items()}  # type: ignore[misc]


def _denied(api: KubeApi, method: str, path: str, body: Any = None) -> bool:
    try:
        api.request(method, path, body=body)
    except ApiException as error:
        return error.status == 403
    return False


def test_kubectl_apply_k_manifests_is_accepted(
    cluster: EphemeralCluster, applied_manifests: subprocess.CompletedProcess[str]
) -> None:
    again = cluster.kubectl("apply", "-k", str(MANIFESTS), "--server-side", "--force-conflicts")
    assert again.returncode == 0, again.stderr
    built = cluster.kubectl("kustomize", str(MANIFESTS))
    assert built.returncode == 0, built.stderr
    kinds = sorted(f"{d['kind']}/{d['metadata']['name']}" for d in yaml.safe_load_all(built.stdout))
    assert kinds == sorted(
        [
            "ClusterRole/kasugai-controller",
            "ClusterRoleBinding/kasugai-controller",
            "CustomResourceDefinition/dataflows.example.com",
            "CustomResourceDefinition/functionchains.example.com",
            "CustomResourceDefinition/functiontypes.example.com",
            "Deployment/kasugai-controller",
            "Namespace/cpufunc-calcapp",
            "Namespace/cpufunc-sample",
            "Namespace/kasugai-system",
            "Role/kasugai-controller-leader-election",
            "Role/kasugai-dataflow",
            "Role/kasugai-dataflow",
            "Role/kasugai-sample-configs",
            "RoleBinding/kasugai-controller-leader-election",
            "RoleBinding/kasugai-dataflow",
            "RoleBinding/kasugai-dataflow",
            "RoleBinding/kasugai-sample-configs",
            "ServiceAccount/kasugai-controller",
            "ServiceAccount/kasugai-dataflow",
            "ServiceAccount/kasugai-dataflow",
        ]
    )
    # The function namespaces enforce Pod Security's baseline on every Pod kasugai writes.
    for document in yaml.safe_load_all(built.stdout):
        if document["kind"] == "Namespace" and document["metadata"]["name"].startswith("cpufunc"):
            labels = document["metadata"]["labels"]
            assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    deployment = client.AppsV1Api(cluster.api_client()).read_namespaced_deployment(
        "kasugai-controller", CONTROLLER_NAMESPACE
    )
    container = deployment.spec.template.spec.containers[0]
    assert container.liveness_probe.http_get.path == "/healthz"
    assert container.readiness_probe.http_get.path == "/readyz"
    assert container.security_context.read_only_root_filesystem is True
    assert container.security_context.allow_privilege_escalation is False
    assert container.security_context.capabilities.drop == ["ALL"]
    assert deployment.spec.template.spec.security_context.run_as_non_root is True
    assert container.resources.requests and container.resources.limits


def test_the_roles_hold_exactly_the_requests_the_controller_makes() -> None:
    group, resource, verb = IMPERSONATION
    assert _rules("ClusterRole", "kasugai-controller") == {
        **{key: tuple(sorted(verbs)) for key, verbs in PERMISSIONS.items()},
        (group, resource, names.DATAFLOW_SERVICE_ACCOUNT): (verb,),
    }
    assert _rules("Role", "kasugai-controller-leader-election") == {
        key: tuple(sorted(verbs)) for key, verbs in LEASE_PERMISSIONS.items()
    }
    tenant = MANIFESTS / "tenant" / "account.yaml"
    assert _rules("Role", names.DATAFLOW_SERVICE_ACCOUNT, tenant) == {
        key: tuple(sorted(verbs)) for key, verbs in WORKLOAD_PERMISSIONS.items()
    }


def test_the_controller_works_as_its_service_account_and_may_do_nothing_else(
    cluster: EphemeralCluster,
    kube: client.ApiClient,
    namespace: str,
    own_controller: Any,
    applied_manifests: subprocess.CompletedProcess[str],
    tmp_path: Path,
) -> None:
    kubeconfig = service_account_kubeconfig(
        cluster, kube, CONTROLLER_NAMESPACE, CONTROLLER_ACCOUNT, tmp_path / "kubeconfig"
    )
    lease = f"sa-{secrets.token_hex(3)}"
    controller = own_controller(
        namespace, "--leader-elect-resource-name", lease, kubeconfig=kubeconfig
    )
    apply_objects(kube, calc_inputs(namespace))
    wait_for_status(kube, namespace, "df-calcapp", "Deployed")
    assert controller.leading()
    # 7 functions x (ServiceAccount, Role, RoleBinding, Pod, Service, ConfigMap), each written
    # as the namespace's kasugai-dataflow account.
    assert controller.writes(verb="create") - controller.writes(kind="Event") == 42
    assert controller.writes(kind="Event") > 0
    assert controller.total("kasugai_controller_write_errors_total") == 0
    assert controller.total("kasugai_controller_watch_restarts_total") == 0

    with load_api_client(str(kubeconfig)) as api_client:
        api = KubeApi(api_client)
        flow = f"/apis/example.com/v1/namespaces/{namespace}/dataflows/df-calcapp"
        pods = f"/api/v1/namespaces/{namespace}/pods"
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {}}
        assert _denied(api, "GET", "/api/v1/secrets")
        assert _denied(api, "DELETE", flow)
        assert _denied(api, "PATCH", flow, {"spec": {}})
        assert _denied(api, "GET", "/apis/apps/v1/deployments")
        assert _denied(api, "POST", f"/api/v1/namespaces/{namespace}/secrets", {})
        assert _denied(api, "GET", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases")
        # Nothing of a workload as itself, only as a namespace's kasugai account ...
        assert _denied(api, "POST", pods, pod)
        assert _denied(api, "DELETE", f"{pods}/df-calcapp-wbfunction-plus-cpu-pod")
        # ... and as no other account.
        for other in (f"{namespace}:default", "kube-system:default", f"{namespace}:anything"):
            as_other = api.acting_as(f"system:serviceaccount:{other}")
            assert _denied(as_other, "GET", f"/api/v1/namespaces/{namespace}/configmaps")


def test_a_watch_that_loses_its_permission_shows_in_health_and_recovers(
    cluster: EphemeralCluster,
    kube: client.ApiClient,
    namespace: str,
    own_controller: Any,
    applied_manifests: subprocess.CompletedProcess[str],
    tmp_path: Path,
) -> None:
    account = f"watch-{secrets.token_hex(3)}"
    kubeconfig = service_account_kubeconfig(
        cluster, kube, CONTROLLER_NAMESPACE, account, tmp_path / "kubeconfig"
    )
    rbac = client.RbacAuthorizationV1Api(kube)
    binding = {
        "metadata": {"name": account},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "kasugai-controller",
        },
        "subjects": [
            {"kind": "ServiceAccount", "name": account, "namespace": CONTROLLER_NAMESPACE}
        ],
    }
    rbac.create_cluster_role_binding(binding)
    # Watches that the server ends every second or two, so that they start again soon.
    controller = own_controller(
        namespace, "--leader-elect=false", "--watch-timeout", "1", kubeconfig=kubeconfig
    )
    wait_for(controller.ready, "the controller to be ready")
    assert controller.get("/healthz") == (200, "ok\n")

    rbac.delete_cluster_role_binding(account)
    _, body = wait_for(
        lambda: (probe := controller.get("/readyz"))[0] == 503 and probe, "/readyz to fail"
    )
    assert "watch " in body and "down" in body and "forbidden" in body.lower()
    # Liveness is the process, not the API: a restart would not give the permission back.
    assert controller.get("/healthz") == (200, "ok\n")
    assert controller.total("kasugai_controller_watch_restarts_total") > 0

    rbac.create_cluster_role_binding(binding)
    wait_for(lambda: controller.get("/readyz")[0] == 200, "/readyz to recover", timeout=120)
    apply_objects(kube, calc_inputs(namespace))
    wait_for_status(kube, namespace, "df-calcapp", "Deployed")
    rbac.delete_cluster_role_binding(account)


def test_a_function_pod_may_read_its_own_connection_configmap_only(
    cluster: EphemeralCluster, kube: client.ApiClient, namespace: str, own_controller: Any
) -> None:
    """Each function Pod runs as an account of its own that reads ethcrl.<pod> and nothing
    else: not another Pod's ConfigMap, not a list of them, not another namespace's."""
    own_controller(namespace, "--leader-elect=false")
    apply_objects(kube, calc_inputs(namespace))
    wait_for_status(kube, namespace, "df-calcapp", "Deployed")
    pod = "df-calcapp-wbfunction-plus-cpu-pod"
    found = KubeApi(kube).get("Pod", namespace, pod)
    assert found is not None and found["spec"]["serviceAccountName"] == pod
    with cluster.impersonating_client(namespace, pod) as sidecar:
        api = KubeApi(sidecar)
        configmaps = f"/api/v1/namespaces/{namespace}/configmaps"
        api.request("GET", f"{configmaps}/ethcrl.{pod}")
        only_own = [("fieldSelector", f"metadata.name=ethcrl.{pod}")]
        api.request("GET", configmaps, query=only_own)  # list and watch, by name
        api.request("GET", configmaps, query=[*only_own, ("watch", "1"), ("timeoutSeconds", "1")])
        assert _denied(api, "GET", configmaps)
        assert _denied(api, "GET", f"{configmaps}/ethcrl.df-calcapp-wbfunction-minus-cpu-pod")
        assert _denied(api, "GET", f"{configmaps}/cpufunc-config-calcapp-plus")
        assert _denied(api, "GET", "/api/v1/namespaces/default/configmaps/x")
        assert _denied(api, "GET", "/api/v1/configmaps")
        assert _denied(api, "GET", f"/api/v1/namespaces/{namespace}/secrets")
        assert _denied(api, "PATCH", f"{configmaps}/ethcrl.{pod}", {"data": {}})
        assert _denied(api, "GET", f"/api/v1/namespaces/{namespace}/pods")


def test_controller_configmap_reaches_the_function_through_its_sidecar(
    cluster: EphemeralCluster,
    kube: client.ApiClient,
    namespace: str,
    own_controller: Any,
    applied_manifests: subprocess.CompletedProcess[str],
    tmp_path: Path,
) -> None:
    """controller -> ethcrl ConfigMap -> sidecar (as the Pod's own ServiceAccount, with the Role
    kasugai gave it) -> rendered config -> SIGHUP, and again after a chain edit."""
    pod = "df-calcapp-wbfunction-plus-cpu-pod"
    own_controller(namespace, "--leader-elect=false")
    inputs = calc_inputs(namespace)
    apply_objects(kube, inputs)
    wait_for_status(kube, namespace, "df-calcapp", "Deployed")

    config_dir = tmp_path / "config"
    config_dir.mkdir()
    shutil.copy(SAMPLES / "templates" / "calcapp-config.yaml.tmpl", config_dir / "config.yaml.tmpl")
    function = start_function(tmp_path, "plus", pod, config_dir / "config.yaml")
    kubeconfig = service_account_kubeconfig(
        cluster, kube, namespace, pod, tmp_path / "sidecar-kubeconfig"
    )
    sidecar = start_sidecar(
        tmp_path, source="kubernetes", config_dir=config_dir, pod=pod, namespace=namespace,
        env={"KUBECONFIG": str(kubeconfig)},
    )  # fmt: skip
    try:
        wait_for(function.is_ready, "the function stand-in")
        minus = _cluster_ip(kube, namespace, "minus")
        wait_for(
            lambda: _signalled_with(function.signals(), minus), "a SIGHUP with minus's address"
        )

        chain = next(obj for obj in inputs if obj["kind"] == "FunctionChain")
        del chain["spec"]["functions"]["minus"]
        connections = chain["spec"]["connections"]
        for connection in connections:
            if connection["to"]["functionKey"] == "minus":
                connection["to"]["functionKey"] = "multiply"
        chain["spec"]["connections"] = [
            c for c in connections if c["from"]["functionKey"] != "minus"
        ]
        apply_objects(kube, [chain])
        multiply = _cluster_ip(kube, namespace, "multiply")
        wait_for(lambda: _signalled_with(function.signals()[-1:], multiply), "the rewiring SIGHUP")
        assert (
            config_dir / "config.yaml"
        ).read_text() == f'next:\n  host: "{multiply}"\n  port: 8080\n'
        assert sidecar.count("configmap watch failed; reconnecting") == 0
    finally:
        sidecar.process.stop()
        function.process.stop()
        client.CustomObjectsApi(kube).delete_namespaced_custom_object(
            "example.com", "v1", namespace, "dataflows", "df-calcapp"
        )


def _cluster_ip(kube: client.ApiClient, namespace: str, key: str) -> str:
    service = KubeApi(kube).get("Service", namespace, f"df-calcapp-wbfunction-{key}-service")
    assert service is not None
    return str(service["spec"]["clusterIP"])


def _signalled_with(signals: list[str], address: str) -> bool:
    return any(f'host: "{address}"' in text for text in signals)
