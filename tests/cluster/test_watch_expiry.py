"""A real watch expiry: etcd compacted past the controller's resourceVersions while it was frozen.

The API server of this test runs without its watch cache, so watches read etcd directly and a
compaction expires them exactly as an outrun watch cache window does in a big cluster. The
controller is frozen (SIGSTOP) until the server has ended its watches; meanwhile the chain is
edited and one of its ConfigMaps deleted, then etcd is compacted. Thawed, the controller resumes
every watch from a compacted resourceVersion, is answered 410 Gone by the server, lists again,
and converges on what changed while it was away.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from controller_fixtures import (
    MANIFESTS,
    calc_inputs,
    drop_minus,
    inventory,
    wait_for,
    wait_for_status,
)
from kubernetes import client

from kasugai.testing import EphemeralCluster
from kasugai.testing.apiserver import ApiserverOptions
from kasugai.testing.controller import start_controller
from kasugai.testing.crds import install_crds
from kasugai.testing.fake_kubelet import FakeKubelet
from kasugai.testing.inputs import apply_objects
from kasugai.testing.tenants import install_tenant

DATAFLOW = "df-calcapp"
NAMESPACE = "expiry"
WATCH_SECONDS = 1  # the server ends each watch after 1-2 s, so a frozen controller loses them


@pytest.fixture
def uncached_cluster(testcluster_binaries: Path, tmp_path: Path) -> Iterator[EphemeralCluster]:
    options = ApiserverOptions(extra_flags=("--watch-cache=false",))
    started = EphemeralCluster.start(testcluster_binaries, tmp_path / "cluster", options=options)
    try:
        with started.api_client() as admin:
            install_crds(admin, MANIFESTS / "crds")
        applied = started.kubectl("apply", "-k", str(MANIFESTS), "--server-side")
        assert applied.returncode == 0, applied.stderr
        yield started
    finally:
        started.stop()


def test_a_compacted_watch_is_listed_again_and_the_controller_converges(
    uncached_cluster: EphemeralCluster, tmp_path: Path
) -> None:
    with uncached_cluster.api_client() as kube:
        client.CoreV1Api(kube).create_namespace({"metadata": {"name": NAMESPACE}})
        install_tenant(kube, MANIFESTS / "tenant", NAMESPACE)
        controller = start_controller(
            uncached_cluster.kubeconfig,
            tmp_path,
            "--namespace",
            NAMESPACE,
            "--watch-timeout",
            str(WATCH_SECONDS),
        )
        try:
            inputs = calc_inputs(NAMESPACE)
            apply_objects(kube, inputs)
            with FakeKubelet(kube, NAMESPACE):
                wait_for_status(kube, NAMESPACE, DATAFLOW, "Deployed")
                assert controller.logged("watch expired (410 Gone); listing again") == []

                os.killpg(controller.process.pid, signal.SIGSTOP)
                try:
                    time.sleep(4 * WATCH_SECONDS + 1)  # every watch has been ended by now
                    chain = next(obj for obj in inputs if obj["kind"] == "FunctionChain")
                    drop_minus(chain)
                    apply_objects(kube, [chain])
                    client.CoreV1Api(kube).delete_namespaced_config_map(
                        f"ethcrl.{DATAFLOW}-wbfunction-multiply-cpu-pod", NAMESPACE
                    )
                    revision = uncached_cluster.compact_etcd()
                finally:
                    os.killpg(controller.process.pid, signal.SIGCONT)

                expired = wait_for(
                    lambda: controller.logged("watch expired (410 Gone); listing again"),
                    "a watch to be answered 410 Gone after the compaction",
                )
                assert expired, revision

                def converged() -> dict[tuple[str, str], Any] | None:
                    found = inventory(kube, NAMESPACE)
                    plus = found.get(("ConfigMap", f"ethcrl.{DATAFLOW}-wbfunction-plus-cpu-pod"))
                    multiply = ("Service", f"{DATAFLOW}-wbfunction-multiply-service")
                    if plus is None or multiply not in found:
                        return None
                    target = found[multiply]["spec"]["clusterIP"]
                    recreated = ("ConfigMap", f"ethcrl.{DATAFLOW}-wbfunction-multiply-cpu-pod")
                    minus_gone = not any("-minus-" in name for _, name in found)
                    rewired = f'"{target}"' in plus["data"]["config"]
                    return found if minus_gone and rewired and recreated in found else None

                wait_for(converged, "plus rewired to multiply, minus deleted, multiply restored")
                wait_for_status(kube, NAMESPACE, DATAFLOW, "Deployed")
            assert controller.process.popen.poll() is None, controller.process.log_tail()
        finally:
            controller.process.stop()
