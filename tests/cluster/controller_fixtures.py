"""Fixtures and helpers for the controller's cluster tests (import with ``*`` in a test module).

One controller process is shared by the tests that only need *a* controller: it watches a pool
of namespaces made up front, and each such test takes a namespace of its own from the pool
(``shared_namespace``), so tests stay isolated without paying for a controller each. Tests
that kill, restart, restrict or compare controllers start their own (``own_controller``), each
watching only its test's namespace, so the shared one never races them.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kasugai.adapters.files import to_yaml
from kasugai.adapters.kube.api import KubeApi
from kasugai.core import names
from kasugai.testing import EphemeralCluster
from kasugai.testing.controller import KASUGAI, ControllerProcess, start_controller, wait_for
from kasugai.testing.fake_kubelet import FakeKubelet
from kasugai.testing.inputs import load, relocated
from kasugai.testing.tenants import install_tenant

__all__ = [
    "ALL_KINDS",
    "CALC",
    "MANIFESTS",
    "applied_manifests",
    "calc_inputs",
    "dataflow",
    "diff_cluster",
    "drop_minus",
    "fake_kubelet",
    "inventory",
    "own_controller",
    "service_account_kubeconfig",
    "shared_controller",
    "shared_namespace",
    "shared_pool",
    "wait_for",
    "wait_for_status",
]

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"
SAMPLES = REPO / "tests" / "fixtures" / "openkasugai"
CALC = SAMPLES / "calc-func" / "basic"
POOL_SIZE = 16


def calc_inputs(namespace: str) -> list[dict[str, Any]]:
    """The calc sample (7 functions, clusterip), moved into ``namespace``."""
    return relocated(load(CALC), namespace)


def diff_cluster(
    cluster: EphemeralCluster, objects: list[dict[str, Any]], path: Path
) -> subprocess.CompletedProcess[str]:
    """``kasugai diff -f PATH --cluster`` of ``objects`` (written to ``path``), as users run it."""
    path.write_text("---\n".join(map(to_yaml, objects)))
    command = [str(KASUGAI), "diff", "-f", str(path), "--cluster"]
    command += ["--kubeconfig", str(cluster.kubeconfig)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def drop_minus(chain: dict[str, Any]) -> None:
    """Edit the calc chain in place: without ``minus``, plus sends to multiply."""
    del chain["spec"]["functions"]["minus"]
    connections = [c for c in chain["spec"]["connections"] if c["from"]["functionKey"] != "minus"]
    for connection in connections:
        if connection["to"]["functionKey"] == "minus":
            connection["to"]["functionKey"] = "multiply"
    chain["spec"]["connections"] = connections


def dataflow(kube: client.ApiClient, namespace: str, name: str) -> dict[str, Any] | None:
    return KubeApi(kube).get("DataFlow", namespace, name)


def wait_for_status(
    kube: client.ApiClient, namespace: str, name: str, status: str, timeout: float = 90.0
) -> dict[str, Any]:
    """The DataFlow once its ``status.status`` is ``status``."""

    def probe() -> dict[str, Any] | None:
        found = dataflow(kube, namespace, name)
        return found if found and (found.get("status") or {}).get("status") == status else None

    return wait_for(probe, f"DataFlow {namespace}/{name} to be {status}", timeout)


FUNCTION_KINDS = ("Pod", "Service", "ConfigMap")  # what the functions run on
ALL_KINDS = (*FUNCTION_KINDS, "ServiceAccount", "Role", "RoleBinding")  # and each Pod's account


def inventory(
    kube: client.ApiClient, namespace: str, kinds: tuple[str, ...] = FUNCTION_KINDS
) -> dict[tuple[str, str], dict[str, Any]]:
    """kasugai's objects of ``kinds`` in ``namespace``: (kind, name) -> object."""
    api = KubeApi(kube)
    selector = f"{names.MANAGED_BY_LABEL}={names.MANAGER}"
    found = {}
    for kind in kinds:
        items, _ = api.list(kind, namespace, selector)
        found.update({(kind, item["metadata"]["name"]): item for item in items})
    return found


def service_account_kubeconfig(
    cluster: EphemeralCluster, kube: client.ApiClient, namespace: str, name: str, path: Path
) -> Path:
    """A kubeconfig holding a real token of the ServiceAccount (made if missing, as no
    controller-manager makes ``default`` ones here), from the TokenRequest API."""
    core = client.CoreV1Api(kube)
    try:
        core.create_namespaced_service_account(namespace, {"metadata": {"name": name}})
    except ApiException as error:
        if error.status != 409:  # 409: it exists already, as wanted
            raise
    request = {"spec": {"expirationSeconds": 3600}}
    token = core.create_namespaced_service_account_token(name, namespace, request).status.token
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "test",
                "cluster": {
                    "server": cluster.server,
                    "certificate-authority": str(cluster.credentials.ca_cert),
                },
            }
        ],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": name}}],
        "current-context": "test",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


@pytest.fixture(scope="session")
def applied_manifests(cluster: EphemeralCluster) -> subprocess.CompletedProcess[str]:
    """``kubectl apply -k manifests/`` done once (server-side; the CRDs are there already)."""
    result = cluster.kubectl("apply", "-k", str(MANIFESTS), "--server-side", "--force-conflicts")
    if result.returncode != 0:
        pytest.fail(f"kubectl apply -k manifests/ failed:\n{result.stderr}", pytrace=False)
    return result


@pytest.fixture(scope="session")
def shared_pool(kube: client.ApiClient) -> list[str]:
    """Namespaces made for the shared controller; tests take them one at a time."""
    prefix = f"shared-{secrets.token_hex(3)}"
    pool = [f"{prefix}-{i}" for i in range(POOL_SIZE)]
    core = client.CoreV1Api(kube)
    for name in pool:
        core.create_namespace({"metadata": {"name": name}})
        install_tenant(kube, MANIFESTS / "tenant", name)
    return pool


@pytest.fixture(scope="session")
def shared_controller(
    cluster: EphemeralCluster,
    shared_pool: list[str],
    applied_manifests: subprocess.CompletedProcess[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ControllerProcess]:
    """One ``kasugai controller`` watching the pool's namespaces; stopped with SIGTERM at the
    end of the session, which it must survive with exit status 0."""
    args = [arg for namespace in shared_pool for arg in ("--namespace", namespace)]
    lease = f"shared-{secrets.token_hex(3)}"
    started = start_controller(
        cluster.kubeconfig,
        tmp_path_factory.mktemp("shared-controller"),
        *args,
        "--leader-elect-resource-name",
        lease,
        name="shared-controller",
    )
    try:
        wait_for(started.ready, "the shared controller to be ready")
        wait_for(started.leading, "the shared controller to take its Lease")
        yield started
    finally:
        started.process.stop()
    assert started.process.popen.returncode == 0, started.process.log_tail()


@pytest.fixture
def shared_namespace(shared_pool: list[str], shared_controller: ControllerProcess) -> str:
    """A namespace of the pool that no other test uses, watched by the shared controller."""
    if not shared_pool:
        pytest.fail(f"the shared namespace pool is used up: raise POOL_SIZE ({POOL_SIZE})")
    return shared_pool.pop(0)


@pytest.fixture
def own_controller(
    cluster: EphemeralCluster, tmp_path: Path, applied_manifests: subprocess.CompletedProcess[str]
) -> Iterator[Callable[..., ControllerProcess]]:
    """Start controllers of this test's own: ``start(namespace, *args, name=, kubeconfig=)``
    watches only ``namespace``; every one is stopped at teardown."""
    started: list[ControllerProcess] = []

    def start(
        namespace: str, *args: str, name: str = "controller", kubeconfig: Path | None = None
    ) -> ControllerProcess:
        process = start_controller(
            kubeconfig or cluster.kubeconfig, tmp_path, "--namespace", namespace, *args, name=name
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.process.stop()


@pytest.fixture
def fake_kubelet(kube: client.ApiClient) -> Iterator[Callable[[str], FakeKubelet]]:
    """Start a FakeKubelet for a namespace: ``fake_kubelet(namespace)``; stopped at teardown,
    and the test fails if one of its patches failed."""
    started: list[FakeKubelet] = []

    def start(namespace: str) -> FakeKubelet:
        kubelet = FakeKubelet(kube, namespace)
        kubelet.start()
        started.append(kubelet)
        return kubelet

    yield start
    for kubelet in started:
        kubelet.stop()
    errors = [error for kubelet in started for error in kubelet.errors]
    assert not errors, f"the fake kubelet failed: {errors}"
