"""Make before break in a cluster: the real sidecar, as its Pod's own ServiceAccount, reports on its
Pod's status which connection config its function loaded, and the real controller waits for it.

The API server tier has no kubelet: the test plays it by marking the Pods Running and Ready
(``set_pod_status``), before any sidecar reports, as a kubelet does when the containers start.
Everything else is real: the controller, the Roles it writes, a token of the Pod's account from
the TokenRequest API, the sidecar process, and a function stand-in that gets the SIGHUP.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from controller_fixtures import *  # noqa: F403
from controller_fixtures import (
    SAMPLES,
    calc_inputs,
    dataflow,
    drop_minus,
    service_account_kubeconfig,
    wait_for,
    wait_for_status,
)
from kasugai_sidecar.testing import start_function, start_sidecar
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kasugai.adapters.kube.api import KubeApi, load_api_client
from kasugai.core import names
from kasugai.core.rewiring import config_digest
from kasugai.testing import EphemeralCluster
from kasugai.testing.fake_kubelet import MERGE_PATCH, set_pod_status
from kasugai.testing.inputs import apply_objects

PREFIX = "df-calcapp-wbfunction"
PLUS = f"{PREFIX}-plus-cpu-pod"


def _loaded_condition(kube: client.ApiClient, namespace: str, pod: str) -> dict[str, Any] | None:
    found = KubeApi(kube).get("Pod", namespace, pod) or {}
    conditions = (found.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == names.CONNECTION_LOADED_CONDITION), None)


def _published(kube: client.ApiClient, namespace: str, pod: str) -> str:
    configmap = KubeApi(kube).get("ConfigMap", namespace, f"ethcrl.{pod}")
    assert configmap is not None
    return str(configmap["data"]["config"])


def _rewired(kube: client.ApiClient, namespace: str) -> dict[str, Any]:
    status = (dataflow(kube, namespace, "df-calcapp") or {}).get("status") or {}
    return next(c for c in status.get("conditions") or [] if c["type"] == "Rewired")


def _reports_loaded(kube: client.ApiClient, namespace: str, pod: str) -> bool:
    """The Pod's condition names exactly the config published for it now."""
    found = _loaded_condition(kube, namespace, pod)
    digest = config_digest(_published(kube, namespace, pod))
    return found is not None and found["status"] == "True" and found["message"] == digest


def _status_patch_denied(api: KubeApi, namespace: str, pod: str, subresource: str) -> bool:
    path = f"/api/v1/namespaces/{namespace}/pods/{pod}{subresource}"
    try:
        api.request("PATCH", path, body={"status": {}}, content_type=MERGE_PATCH)
    except ApiException as error:
        return error.status == 403
    return False


def _configmap(name: str, ip: str) -> dict[str, Any]:
    config = json.dumps({"ips": [ip], "ports": [{"port": 8080, "protocol": "TCP"}]})
    return {"metadata": {"name": name}, "data": {"config": config}}


def test_the_sidecar_reports_what_its_function_loaded_and_the_controller_waits_for_it(
    cluster: EphemeralCluster,
    kube: client.ApiClient,
    namespace: str,
    own_controller: Any,
    tmp_path: Path,
) -> None:
    own_controller(namespace, "--leader-elect=false")
    inputs = calc_inputs(namespace)
    apply_objects(kube, inputs)
    wait_for_status(kube, namespace, "df-calcapp", "Deployed")
    pods, _ = KubeApi(kube).list("Pod", namespace, f"{names.MANAGED_BY_LABEL}={names.MANAGER}")
    for pod in pods:  # the kubelet's part: the containers run
        set_pod_status(kube, namespace, pod["metadata"]["name"])

    config_dir = tmp_path / "config"
    config_dir.mkdir()
    shutil.copy(SAMPLES / "templates" / "calcapp-config.yaml.tmpl", config_dir / "config.yaml.tmpl")
    kubeconfig = service_account_kubeconfig(
        cluster, kube, namespace, PLUS, tmp_path / "sidecar-kubeconfig"
    )
    function = start_function(tmp_path, "plus", PLUS, config_dir / "config.yaml")
    sidecar = start_sidecar(
        tmp_path, source="kubernetes", config_dir=config_dir, pod=PLUS, namespace=namespace,
        env={"KUBECONFIG": str(kubeconfig)},
        args=["--signal-retry-seconds", "600"],  # waits for a function that is away, below
    )  # fmt: skip
    try:
        wait_for(lambda: _reports_loaded(kube, namespace, PLUS), "plus's sidecar to report")
        assert function.signals(), "reported only once the function was signalled"
        wait_for(lambda: _rewired(kube, namespace)["status"] == "True", "Rewired")

        # The function is away when the chain is edited: plus now sends to multiply, but until
        # its function has loaded that, the controller keeps minus (its old next hop) running.
        function.process.stop()
        chain = next(obj for obj in inputs if obj["kind"] == "FunctionChain")
        drop_minus(chain)
        apply_objects(kube, [chain])
        wait_for(
            lambda: "waiting for plus to load its next hop" in _rewired(kube, namespace)["message"],
            "the controller to wait for plus",
        )
        assert not _reports_loaded(kube, namespace, PLUS)
        assert KubeApi(kube).get("Pod", namespace, f"{PREFIX}-minus-cpu-pod") is not None

        # The function is back: the sidecar signals it, reports, and the edit completes.
        function = start_function(tmp_path, "plus", PLUS, config_dir / "config.yaml")
        wait_for(lambda: _reports_loaded(kube, namespace, PLUS), "plus's sidecar to report again")
        multiply = KubeApi(kube).get("Service", namespace, f"{PREFIX}-multiply-service")
        assert multiply is not None
        assert json.loads(_published(kube, namespace, PLUS))["ips"] == [
            multiply["spec"]["clusterIP"]
        ]
        wait_for(lambda: _rewired(kube, namespace)["status"] == "True", "Rewired again")
        wait_for(
            lambda: KubeApi(kube).get("Pod", namespace, f"{PREFIX}-minus-cpu-pod") is None,
            "minus to be deleted once nobody sends to it",
        )
        assert sidecar.count("cannot report the loaded config on the Pod; retrying") == 0
        assert not sidecar.process.exited()

        # Its token may write its own Pod's status and nothing else of any Pod.
        with load_api_client(str(kubeconfig)) as own:
            api = KubeApi(own)
            assert not _status_patch_denied(api, namespace, PLUS, "/status")
            assert _status_patch_denied(api, namespace, f"{PREFIX}-multiply-cpu-pod", "/status")
            assert _status_patch_denied(api, namespace, PLUS, "")
    finally:
        sidecar.process.stop()
        function.process.stop()


def test_a_refused_report_is_retried_and_never_stops_the_reloads(
    cluster: EphemeralCluster, kube: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    """A Pod whose account may read its ConfigMap but not patch its status (an older Role):
    the sidecar still renders and signals every change, logs the refusal, and retries."""
    pod = "lonely-cpu-pod"
    core = client.CoreV1Api(kube)
    spec = {"containers": [{"name": "function", "image": "localhost/none"}]}
    core.create_namespaced_pod(namespace, {"metadata": {"name": pod}, "spec": spec})
    rbac = client.RbacAuthorizationV1Api(kube)
    rule = {
        "apiGroups": [""],
        "resources": ["configmaps"],
        "resourceNames": [f"ethcrl.{pod}"],
        "verbs": ["get", "list", "watch"],
    }
    rbac.create_namespaced_role(namespace, {"metadata": {"name": pod}, "rules": [rule]})
    subject = {"kind": "ServiceAccount", "name": pod, "namespace": namespace}
    role = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": pod}
    binding = {"metadata": {"name": pod}, "roleRef": role, "subjects": [subject]}
    rbac.create_namespaced_role_binding(namespace, binding)
    kubeconfig = service_account_kubeconfig(cluster, kube, namespace, pod, tmp_path / "kc")

    config_dir = tmp_path / "config"
    config_dir.mkdir()
    shutil.copy(SAMPLES / "templates" / "calcapp-config.yaml.tmpl", config_dir / "config.yaml.tmpl")
    function = start_function(tmp_path, "f", pod, config_dir / "config.yaml")
    sidecar = start_sidecar(
        tmp_path, source="kubernetes", config_dir=config_dir, pod=pod, namespace=namespace,
        env={"KUBECONFIG": str(kubeconfig)},
    )  # fmt: skip
    try:
        name = f"ethcrl.{pod}"
        core.create_namespaced_config_map(namespace, _configmap(name, "10.96.0.41"))
        wait_for(lambda: len(function.signals()) == 1, "the first SIGHUP")
        core.replace_namespaced_config_map(name, namespace, _configmap(name, "10.96.0.42"))
        wait_for(lambda: len(function.signals()) == 2, "the second SIGHUP")
        assert 'host: "10.96.0.42"' in function.signals()[-1]
        refused = wait_for(
            lambda: [
                e
                for e in sidecar.events()
                if e["event"] == "cannot report the loaded config on the Pod; retrying"
            ][1:],
            "the refusal to be retried",
        )
        assert "forbidden" in refused[0]["error"].lower()
        assert _loaded_condition(kube, namespace, pod) is None
        assert not sidecar.process.exited()
    finally:
        sidecar.process.stop()
        function.process.stop()
