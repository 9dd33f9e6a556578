"""``manifests/`` on a real API server: ``kubectl apply -k`` accepts it, the controller runs as its
own ServiceAccount with exactly the permissions it uses and nothing more, a watch that loses
them shows in health and recovers, and a sidecar reads only its own namespace's ConfigMaps,
all the way from the controller's ConfigMap to a SIGHUP."""

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

from kasugai.adapters.kube.api import LEASE_PERMISSIONS, PERMISSIONS, KubeApi, load_api_client
from kasugai.testing import EphemeralCluster
from kasugai.testing.inputs import apply_objects

CONTROLLER_NAMESPACE = "kasugai-system"
CONTROLLER_ACCOUNT = "kasugai-controller"


def _rules(kind: str, name: str) -> dict[tuple[str, str], tuple[str, ...]]:
    """(apiGroup, resource) -> sorted verbs of a Role or ClusterRole in manifests/rbac.yaml."""
    documents = yaml.safe_load_all((MANIFESTS / "rbac.yaml").read_text())
    role = next(d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name)
    found: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                found.setdefault((group, resource), set()).update(rule["verbs"])
    return {key: tuple(sorted(verbs)) for key, verbs in found.items()}


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
            "Role/kasugai-sidecar",
            "Role/kasugai-sidecar",
            "RoleBinding/kasugai-controller-leader-election",
            "RoleBinding/kasugai-sidecar",
            "RoleBinding/kasugai-sidecar",
            "ServiceAccount/kasugai-controller",
        ]
    )
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
    assert _rules("ClusterRole", "kasugai-controller") == {
        key: tuple(sorted(verbs)) for key, verbs in PERMISSIONS.items()
    }
    assert _rules("Role", "kasugai-controller-leader-election") == {
        key: tuple(sorted(verbs)) for key, verbs in LEASE_PERMISSIONS.items()
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
    assert controller.writes(verb="apply") == 21
    assert controller.writes(kind="Event") > 0
    assert controller.total("kasugai_controller_write_errors_total") == 0
    assert controller.total("kasugai_controller_watch_restarts_total") == 0

    with load_api_client(str(kubeconfig)) as api_client:
        api = KubeApi(api_client)
        flow = f"/apis/example.com/v1/namespaces/{namespace}/dataflows/df-calcapp"
        assert _denied(api, "GET", "/api/v1/secrets")
        assert _denied(api, "GET", f"/api/v1/namespaces/{namespace}/pods/x")  # list, not get
        assert _denied(api, "DELETE", flow)
        assert _denied(api, "PATCH", flow, {"spec": {}})
        assert _denied(api, "GET", "/apis/apps/v1/deployments")
        assert _denied(api, "POST", f"/api/v1/namespaces/{namespace}/secrets", {})
        assert _denied(api, "GET", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases")


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
        lambda: (probe := controller.get("/healthz"))[0] == 503 and probe, "/healthz to fail"
    )
    assert "watch " in body and "down" in body and "forbidden" in body.lower()
    assert controller.get("/readyz")[0] == 503
    assert controller.total("kasugai_controller_watch_restarts_total") > 0

    rbac.create_cluster_role_binding(binding)
    wait_for(lambda: controller.get("/healthz")[0] == 200, "/healthz to recover", timeout=120)
    apply_objects(kube, calc_inputs(namespace))
    wait_for_status(kube, namespace, "df-calcapp", "Deployed")
    rbac.delete_cluster_role_binding(account)


def test_a_sidecar_may_read_configmaps_of_its_own_namespace_only(
    cluster: EphemeralCluster, applied_manifests: subprocess.CompletedProcess[str]
) -> None:
    with cluster.impersonating_client("cpufunc-calcapp", "default") as sidecar:
        api = KubeApi(sidecar)
        own = "/api/v1/namespaces/cpufunc-calcapp/configmaps"
        api.request("GET", own)  # list is allowed
        api.request("GET", own, query=[("watch", "1"), ("timeoutSeconds", "1")])
        assert _denied(api, "GET", "/api/v1/namespaces/cpufunc-sample/configmaps")
        assert _denied(api, "GET", "/api/v1/namespaces/default/configmaps/x")
        assert _denied(api, "GET", "/api/v1/configmaps")
        assert _denied(api, "GET", "/api/v1/namespaces/cpufunc-calcapp/secrets")
        assert _denied(api, "POST", own, {"metadata": {"name": "x"}})
        assert _denied(api, "GET", "/api/v1/namespaces/cpufunc-calcapp/pods")


def test_controller_configmap_reaches_the_function_through_its_sidecar(
    cluster: EphemeralCluster,
    kube: client.ApiClient,
    own_controller: Any,
    applied_manifests: subprocess.CompletedProcess[str],
    tmp_path: Path,
) -> None:
    """controller -> ethcrl ConfigMap -> sidecar (as the namespace's default ServiceAccount,
    with the Role from manifests/) -> rendered config -> SIGHUP, and again after a chain edit."""
    namespace = "cpufunc-calcapp"
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
        cluster, kube, namespace, "default", tmp_path / "sidecar-kubeconfig"
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
