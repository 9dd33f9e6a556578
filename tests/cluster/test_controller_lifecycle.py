"""The controller process over its life: killed mid-apply and restarted, two replicas and one
Lease, a Lease taken away, SIGTERM, dry-run, and the journal that ``kasugai replay`` re-runs."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
from pathlib import Path
from typing import Any

from controller_fixtures import *  # noqa: F403
from controller_fixtures import (
    ALL_KINDS,
    calc_inputs,
    dataflow,
    inventory,
    wait_for,
    wait_for_status,
)
from kubernetes import client

from kasugai.adapters.kube.api import KubeApi
from kasugai.core import fieldsets
from kasugai.testing.controller import KASUGAI, ControllerProcess
from kasugai.testing.inputs import apply_objects, dataflow_copies

FUNCTIONS = ("send", "plus", "minus", "multiply", "divide", "average", "rcv")


def _expected(flows: list[str]) -> set[tuple[str, str]]:
    """The 42 objects of each calc DataFlow, by kind and name."""
    found = set()
    for flow in flows:
        for key in FUNCTIONS:
            instance = f"{flow}-wbfunction-{key}"
            found |= {
                ("Pod", f"{instance}-cpu-pod"),
                ("Service", f"{instance}-service"),
                ("ConfigMap", f"ethcrl.{instance}-cpu-pod"),
                ("ServiceAccount", f"{instance}-cpu-pod"),
                ("Role", f"{instance}-cpu-pod"),
                ("RoleBinding", f"{instance}-cpu-pod"),
            }
    return found


def _creates(controller: ControllerProcess) -> float:
    """Objects created (Events are created too, and not counted here)."""
    return sum(controller.writes(verb="create", kind=kind) for kind in ALL_KINDS)


def _identity(controller: ControllerProcess) -> str:
    return str(controller.logged("controller starting")[0]["identity"])


def _lease(kube: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    return KubeApi(kube).get("Lease", namespace, name) or {}


def test_killed_mid_apply_and_restarted_it_converges_without_duplicates_or_orphans(
    kube: client.ApiClient, namespace: str, own_controller: Any
) -> None:
    inputs = calc_inputs(namespace)
    template = next(obj for obj in inputs if obj["kind"] == "DataFlow")
    flows = [f"df-{i}" for i in range(4)]
    others = [obj for obj in inputs if obj["kind"] != "DataFlow"]
    apply_objects(kube, others + dataflow_copies(template, flows))

    # Slow writes (5/s), so that the kill lands in the middle of creating 168 objects.
    first = own_controller(namespace, "--kube-api-qps", "5", "--kube-api-burst", "1", name="first")
    wait_for(lambda: _creates(first) >= 10, "the first writes", timeout=120)
    os.killpg(first.process.pid, signal.SIGKILL)
    first.process.popen.wait(timeout=30)
    # While it is down, one DataFlow goes: its objects must not stay behind.
    client.CustomObjectsApi(kube).delete_namespaced_custom_object(
        "example.com", "v1", namespace, "dataflows", "df-3"
    )
    found = inventory(kube, namespace, ALL_KINDS)
    left = set(found)
    assert 0 < len(left) < 168, "the kill did not land mid-apply"
    unclaimed = {key for key, obj in found.items() if fieldsets.unclaimed(obj)}

    second = own_controller(namespace, name="second")
    wanted = _expected(flows[:3])
    wait_for(
        lambda: set(inventory(kube, namespace, ALL_KINDS)) == wanted,
        "exactly the 3 DataFlows' objects",
    )
    for flow in flows[:3]:
        wait_for_status(kube, namespace, flow, "Deployed")
    # What the first controller wrote was taken as it was: no object created twice, and only
    # the objects it had not applied yet (a create puts no fields on record) applied...
    assert _creates(second) == len(wanted - left)
    assert second.writes(verb="apply") == len(wanted - left) + len(unclaimed & wanted)
    # ... and the orphans were deleted.
    assert second.writes(verb="delete") == len({k for k in left if "df-3-" in k[1]})
    uids = {flow: dataflow(kube, namespace, flow)["metadata"]["uid"] for flow in flows[:3]}
    for (kind, name), obj in inventory(kube, namespace, ALL_KINDS).items():
        (owner,) = obj["metadata"]["ownerReferences"]
        assert owner["uid"] == uids[owner["name"]], (kind, name)


def test_only_the_leader_writes_and_a_stopped_leader_hands_over_at_once(
    kube: client.ApiClient, namespace: str, own_controller: Any
) -> None:
    lease = f"lease-{secrets.token_hex(3)}"
    election = (
        "--leader-elect-resource-name",
        lease,
        "--leader-elect-resource-namespace",
        namespace,
    )
    replicas = [own_controller(namespace, *election, name=name) for name in ("a", "b")]
    for replica in replicas:
        wait_for(replica.ready, f"{replica.process.name} to be ready")
    leader = wait_for(lambda: next((r for r in replicas if r.leading()), None), "a leader")
    (follower,) = [r for r in replicas if r is not leader]

    inputs = calc_inputs(namespace)
    apply_objects(kube, inputs)
    wait_for_status(kube, namespace, "df-calcapp", "Deployed")
    assert leader.writes() > 0
    assert follower.writes() == 0
    assert not follower.leading()
    assert _lease(kube, namespace, lease)["spec"]["holderIdentity"] == _identity(leader)
    # The follower planned all along: it logged the same decisions.
    assert follower.logged("transition")

    leader.process.stop()
    assert leader.process.popen.returncode == 0
    assert leader.logged("controller stopped")[0]["clean"] is True
    wait_for(follower.leading, "the follower to take the released Lease")
    assert _lease(kube, namespace, lease)["spec"]["holderIdentity"] == _identity(follower)

    chain = next(obj for obj in inputs if obj["kind"] == "FunctionChain")
    connections = chain["spec"]["connections"]
    for connection in connections:  # divide -> rcv, skipping average
        if connection["to"]["functionKey"] == "average":
            connection["to"]["functionKey"] = "rcv"
    chain["spec"]["connections"] = [c for c in connections if c["from"]["functionKey"] != "average"]
    del chain["spec"]["functions"]["average"]
    apply_objects(kube, [chain])
    wait_for(
        lambda: not any("-average-" in name for _, name in inventory(kube, namespace)),
        "the new leader to carry out the edit",
    )
    assert follower.writes(verb="delete") == 6


def test_a_replica_whose_lease_is_taken_stops_writing(
    kube: client.ApiClient, namespace: str, own_controller: Any
) -> None:
    lease = f"lease-{secrets.token_hex(3)}"
    controller = own_controller(
        namespace,
        "--leader-elect-resource-name", lease,
        "--leader-elect-resource-namespace", namespace,
        "--leader-elect-lease-duration", "4",
        "--leader-elect-renew-deadline", "3",
        "--leader-elect-retry-period", "1",
    )  # fmt: skip
    wait_for(controller.leading, "the Lease")
    api = KubeApi(kube)
    taken = _lease(kube, namespace, lease)
    taken["spec"].update(holderIdentity="someone-else", leaseDurationSeconds=3600)
    api.replace(taken)
    wait_for(lambda: not controller.leading(), "the controller to step down")
    writes = controller.writes()

    apply_objects(kube, calc_inputs(namespace))
    wait_for(
        lambda: any(e.get("reason") == "Resolved" for e in controller.logged("transition")),
        "the controller to plan the DataFlow",
    )
    assert not inventory(kube, namespace)
    assert controller.writes() == writes

    api.request("DELETE", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{lease}")
    wait_for(controller.leading, "the Lease again")
    wait_for_status(kube, namespace, "df-calcapp", "Deployed")


def test_dry_run_logs_the_diffs_and_writes_nothing(
    kube: client.ApiClient, namespace: str, own_controller: Any
) -> None:
    controller = own_controller(namespace, "--dry-run")
    wait_for(controller.ready, "the controller to be ready")
    apply_objects(kube, calc_inputs(namespace))

    def diff_of(name: str) -> dict[str, Any] | None:
        return next(
            (e for e in controller.logged("dry-run: would write") if name in e["diff"]), None
        )

    entry = wait_for(lambda: diff_of("df-calcapp-wbfunction-send-cpu-pod created"), "a diff")
    assert f"Pod/{namespace}/df-calcapp-wbfunction-send-cpu-pod created" in entry["diff"]
    assert "+  name: df-calcapp-wbfunction-send-cpu-pod" in entry["diff"]
    wait_for(lambda: diff_of("status:"), "the status it would write")
    assert controller.total("kasugai_controller_planned_actions_total", verb="create") >= 14
    assert controller.writes() == 0
    assert not inventory(kube, namespace)
    assert "status" not in (dataflow(kube, namespace, "df-calcapp") or {})
    assert not controller.logged("leader election")  # a dry run takes no Lease either
    status, body = controller.get("/metrics")
    assert status == 200
    assert "kasugai_controller_queue_depth" in body
    assert "process_resident_memory_bytes" in body


def test_the_journal_replays_to_the_same_decisions(
    kube: client.ApiClient, namespace: str, own_controller: Any, fake_kubelet: Any, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.jsonl"
    controller = own_controller(namespace, "--journal", str(journal), "--leader-elect=false")
    apply_objects(kube, calc_inputs(namespace))
    fake_kubelet(namespace)
    wait_for_status(kube, namespace, "df-calcapp", "Deployed")
    controller.process.stop()
    assert controller.process.popen.returncode == 0

    result = subprocess.run(
        [str(KASUGAI), "replay", str(journal)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every decision reproduced" in result.stderr
    decisions = result.stdout.splitlines()
    assert decisions and all(line.startswith("= ") for line in decisions)
    assert any("Deploying -> Deployed (AllReady)" in line for line in decisions)
