"""``kasugai explain DATAFLOW --cluster`` against a real kube-apiserver and the real controller.

The calc sample is taken through each waiting reason this tier can produce, and the command (as
a user runs it, a process with a kubeconfig) must name the cause and exit 1, then 0 once the
DataFlow is Deployed with every Pod Running and Ready. No scheduler and no kubelet run in this
tier: the test writes the Pod statuses they would (``set_pod_status``; the scheduler's
``PodScheduled=False`` condition with its message), and a sidecar's ``ConnectionLoaded``
condition where a sidecar would. The render failure is reported by the real sidecar process.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from controller_fixtures import *  # noqa: F403
from controller_fixtures import (
    SAMPLES,
    calc_inputs,
    drop_minus,
    service_account_kubeconfig,
    wait_for,
    wait_for_status,
)
from kasugai_sidecar.loaded_report import RENDER_FAILED
from kasugai_sidecar.testing import start_function, start_sidecar
from kubernetes import client

from kasugai.adapters.kube.api import KubeApi
from kasugai.core import names
from kasugai.core.rewiring import loaded_condition
from kasugai.testing import EphemeralCluster
from kasugai.testing.controller import KASUGAI
from kasugai.testing.fake_kubelet import MERGE_PATCH, set_pod_status
from kasugai.testing.inputs import apply_objects

NAME = "df-calcapp"
PREFIX = f"{NAME}-wbfunction"
PLUS, MULTIPLY = f"{PREFIX}-plus-cpu-pod", f"{PREFIX}-multiply-cpu-pod"
UNSCHEDULABLE = (
    "0/1 nodes are available: 1 Insufficient nvidia.com/gpu. preemption: 0/1 nodes are "
    "available: 1 No preemption victims found for incoming pod."
)
READY = {"type": "Ready", "status": "True"}  # a merge patch replaces the whole list
# What docs/operations.md tells users to bind: reading is all explain does.
READER_ROLE = {
    "metadata": {"name": "kasugai-explain"},
    "rules": [
        {"apiGroups": ["example.com"], "resources": ["dataflows"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["pods", "events"], "verbs": ["list"]},
    ],
}


def _explain(
    cluster: EphemeralCluster, namespace: str, *args: str
) -> subprocess.CompletedProcess[str]:
    command = [str(KASUGAI), "explain", NAME, "-n", namespace, "--cluster"]
    command += ["--kubeconfig", str(cluster.kubeconfig), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _explained(cluster: EphemeralCluster, namespace: str) -> dict[str, Any]:
    """The JSON explanation, checking the exit status agrees with it."""
    result = _explain(cluster, namespace, "-o", "json")
    assert result.returncode in (0, 1), result.stderr
    found: dict[str, Any] = json.loads(result.stdout)
    assert result.returncode == (0 if found["healthy"] else 1)
    return found


def _reasons(found: dict[str, Any]) -> list[str]:
    return [cause["reason"] for cause in found["causes"]]


def _pod_status(kube: client.ApiClient, namespace: str, pod: str, status: dict[str, Any]) -> None:
    path = f"/api/v1/namespaces/{namespace}/pods/{pod}/status"
    KubeApi(kube).request("PATCH", path, body={"status": status}, content_type=MERGE_PATCH)


def _pods(kube: client.ApiClient, namespace: str) -> list[str]:
    pods, _ = KubeApi(kube).list("Pod", namespace, f"{names.DATAFLOW_LABEL}={NAME}")
    return [p["metadata"]["name"] for p in pods]


def _published(kube: client.ApiClient, namespace: str, pod: str) -> str:
    configmap = KubeApi(kube).get("ConfigMap", namespace, f"ethcrl.{pod}")
    assert configmap is not None
    return str(configmap["data"]["config"])


def _break_config(objects: list[dict[str, Any]], function: str) -> dict[str, Any]:
    """The config ConfigMap of ``function``, with ``envs`` a list (it must be an object)."""
    found = next(
        o for o in objects if o["metadata"]["name"] == f"cpufunc-config-calcapp-{function}"
    )
    broken = json.loads(json.dumps(found))
    (key,) = broken["data"]
    broken["data"][key] = broken["data"][key].replace('"envs": {', '"envs": [1], "x": {', 1)
    return broken


def test_explain_walks_the_calc_sample_through_each_waiting_reason(
    cluster: EphemeralCluster, kube: client.ApiClient, shared_namespace: str, tmp_path: Path
) -> None:
    namespace = shared_namespace
    missing = _explain(cluster, namespace)
    assert missing.returncode == 2
    assert missing.stderr.startswith(
        f'Error from server (NotFound): dataflows.example.com "{NAME}" not found'
    )

    inputs = calc_inputs(namespace)
    plus_type = next(o for o in inputs if o["metadata"]["name"] == "functype-calcapp-plus")
    good_config = next(o for o in inputs if o["metadata"]["name"] == "cpufunc-config-calcapp-minus")
    apply_objects(kube, [o for o in inputs if o is not plus_type])

    # 1. A FunctionType is missing: named, with its namespace.
    wait_for_status(kube, namespace, NAME, "Pending")
    text = _explain(cluster, namespace)
    assert text.returncode == 1, text.stderr
    assert text.stdout.startswith(f"DataFlow {namespace}/{NAME}: Pending\n")
    assert f"1. FunctionType calcapp-plus (version 1.0.0) in namespace {namespace}" in text.stdout
    assert "create a FunctionType with spec.functionName 'calcapp-plus'" in text.stdout

    # 2. A config fails validation: the field and the fix.
    apply_objects(kube, [plus_type, _break_config(inputs, "minus")])
    wait_for_status(kube, namespace, NAME, "Error")
    found = _explained(cluster, namespace)
    invalid = found["causes"][0]
    assert invalid["reason"] == "InvalidConfig"
    assert invalid["about"] == f"ConfigMap {namespace}/cpufunc-config-calcapp-minus"
    assert ".envs" in invalid["action"] and "expected an object" in invalid["action"]

    # 3. An object of a function's name that is not this DataFlow's: a conflict.
    squatter = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"{PREFIX}-plus-service", "namespace": namespace},
        "spec": {"ports": [{"port": 8080, "protocol": "TCP"}]},
    }
    client.CoreV1Api(kube).create_namespaced_service(namespace, squatter)
    apply_objects(kube, [good_config])

    def conflict() -> dict[str, Any] | None:
        found = _explained(cluster, namespace)
        return found if "Conflict" in _reasons(found) else None

    found = wait_for(conflict, "explain to report the conflict")
    cause = found["causes"][0]
    assert cause["about"] == f"Service {namespace}/{PREFIX}-plus-service"
    assert f"kubectl delete -n {namespace} service {PREFIX}-plus-service" in cause["action"]
    client.CoreV1Api(kube).delete_namespaced_service(f"{PREFIX}-plus-service", namespace)

    # 4. A Pod the scheduler cannot place (written as kube-scheduler would: none runs here).
    wait_for(lambda: len(_pods(kube, namespace)) == 7, "the 7 Pods")
    for pod in _pods(kube, namespace):
        if pod != PLUS:
            set_pod_status(kube, namespace, pod)
    _pod_status(
        kube,
        namespace,
        PLUS,
        {
            "phase": "Pending",
            "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                 "message": UNSCHEDULABLE}
            ],
        },
    )  # fmt: skip

    def unschedulable() -> dict[str, Any] | None:
        found = _explained(cluster, namespace)
        return found if "Unschedulable" in _reasons(found) else None

    cause = next(
        c
        for c in wait_for(unschedulable, "explain to report the Pod")["causes"]
        if c["reason"] == "Unschedulable"
    )
    assert cause["about"] == f"Pod {namespace}/{PLUS}"
    assert UNSCHEDULABLE in cause["message"] and "(nvidia.com/gpu)" in cause["action"]

    # 5. Rewiring: plus now sends to multiply, whose sidecar reports an older config loaded.
    set_pod_status(kube, namespace, PLUS)
    _pod_status(kube, namespace, MULTIPLY, {"conditions": [READY, loaded_condition("older")]})
    chain = next(o for o in inputs if o["kind"] == "FunctionChain")
    drop_minus(chain)
    apply_objects(kube, [chain])

    def rewiring() -> dict[str, Any] | None:
        found = _explained(cluster, namespace)
        return found if "Rewiring" in _reasons(found) else None

    cause = next(
        c
        for c in wait_for(rewiring, "explain to report the rewiring")["causes"]
        if c["reason"] == "Rewiring"
    )
    assert cause["about"] == "connection plus->multiply"
    assert "waiting for multiply to load its next hop" in cause["message"]
    assert f"Pod {namespace}/{MULTIPLY}" in cause["action"]

    # 6. multiply's sidecar reports what is published: the chain is Deployed and healthy.
    loaded = loaded_condition(_published(kube, namespace, MULTIPLY))
    _pod_status(kube, namespace, MULTIPLY, {"conditions": [READY, loaded]})
    wait_for(lambda: _explain(cluster, namespace).returncode == 0, "explain to exit 0")
    done = _explain(cluster, namespace)
    assert done.stdout.startswith(f"DataFlow {namespace}/{NAME}: Deployed\nHealthy: 6/6 Pods")

    # 7. A user with only the read-only Role of docs/operations.md gets the same answer.
    reader = service_account_kubeconfig(cluster, kube, namespace, "reader", tmp_path / "reader")
    rbac = client.RbacAuthorizationV1Api(kube)
    rbac.create_namespaced_role(namespace, READER_ROLE)
    rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": "kasugai-explain"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                        "name": "kasugai-explain"},
            "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}],
        },
    )  # fmt: skip

    def as_reader() -> subprocess.CompletedProcess[str] | None:
        result = _explain(cluster, namespace, "--kubeconfig", str(reader))
        return result if result.returncode == 0 else None  # RBAC takes a moment to apply

    assert wait_for(as_reader, "explain to work as the reader").stdout == done.stdout


def test_explain_shows_what_the_real_sidecar_reports_when_it_cannot_render(
    cluster: EphemeralCluster,
    kube: client.ApiClient,
    namespace: str,
    own_controller: Any,
    tmp_path: Path,
) -> None:
    own_controller(namespace, "--leader-elect=false")
    apply_objects(kube, calc_inputs(namespace))
    wait_for_status(kube, namespace, NAME, "Deployed")
    for pod in _pods(kube, namespace):
        set_pod_status(kube, namespace, pod)
    wait_for(lambda: _explain(cluster, namespace).returncode == 0, "explain to exit 0")

    config_dir = tmp_path / "config"
    config_dir.mkdir()
    shutil.copy(SAMPLES / "templates" / "calcapp-config.yaml.tmpl", config_dir / "config.yaml.tmpl")
    (config_dir / "broken.yaml.tmpl").write_text("next: {{ .ips ")  # an unclosed action
    kubeconfig = service_account_kubeconfig(
        cluster, kube, namespace, PLUS, tmp_path / "sidecar-kubeconfig"
    )
    function = start_function(tmp_path, "plus", PLUS, config_dir / "config.yaml")
    sidecar = start_sidecar(
        tmp_path, source="kubernetes", config_dir=config_dir, pod=PLUS, namespace=namespace,
        env={"KUBECONFIG": str(kubeconfig)},
    )  # fmt: skip
    try:

        def render_failed() -> dict[str, Any] | None:
            found = _explained(cluster, namespace)
            return found if RENDER_FAILED in _reasons(found) else None

        found = wait_for(render_failed, "explain to report the sidecar's render failure")
        cause = next(c for c in found["causes"] if c["reason"] == RENDER_FAILED)
        assert cause["about"] == f"Pod {namespace}/{PLUS} sidecar"
        assert "broken.yaml.tmpl" in cause["message"]
        assert f"kubectl logs -n {namespace} {PLUS} -c sidecar" in cause["action"]
        assert not found["healthy"]

        # The template is fixed: the sidecar reports the config loaded, explain exits 0 again.
        (config_dir / "broken.yaml.tmpl").write_text("next: {{ .ips }}\n")
        wait_for(lambda: _explain(cluster, namespace).returncode == 0, "explain to exit 0 again")
    finally:
        sidecar.process.stop()
        function.process.stop()
