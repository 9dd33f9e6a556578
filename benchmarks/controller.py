"""Benchmark of the controller on a real API server: N DataFlows of the 7-function calc chain.

Run by hand: ``.venv/bin/python benchmarks/controller.py [N ...] [--qps Q ...]`` (default
N=100, Q=50). For every N and every write limit Q it starts etcd and kube-apiserver on loopback
(``kasugai.testing``, binaries from ``tests/apiserver/build.sh``), makes the namespace ready for
DataFlows (``manifests/tenant``), starts ``kasugai controller --kube-api-qps Q --kube-api-burst
2Q`` as a subprocess and a fake kubelet (Pods Running, load-balancer IPs), applies the chain's
inputs, then N DataFlows at once, and prints:

* time to converge: until every DataFlow is Deployed (7 Pods, 7 Services, 7 published
  ConfigMaps each), and until every function also shows Running and the controller is quiet;
  beside it the write floor, the time the write limit alone needs for those writes (the burst
  first, then Q a second), for the objects alone and for every write the run made;
* API writes per created object (target 1: one Server-Side Apply each), with the status and
  Event writes beside it;
* writes per minute in the steady state that follows (target 0), over one minute;
* the controller's resident memory (now, and its peak);
* the machine: CPUs, Python, load average before and after.

A run that cannot converge (every write refused, say) stops at three times its floor plus two
minutes, with the controller's last warning.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from figures import environment, memory_mib
from kubernetes import client

from kasugai.adapters.kube.api import KubeApi
from kasugai.testing import EphemeralCluster, install_crds
from kasugai.testing.controller import ControllerProcess, start_controller, wait_for
from kasugai.testing.fake_kubelet import FakeKubelet
from kasugai.testing.inputs import apply_objects, dataflow_copies, load, relocated
from kasugai.testing.tenants import install_tenant

REPO = Path(__file__).resolve().parent.parent
CALC = REPO / "tests" / "fixtures" / "openkasugai" / "calc-func" / "basic"
NAMESPACE = "bench"
# Per function: its Pod, Service and ethcrl ConfigMap, and the Pod's own identity (a
# ServiceAccount, Role and RoleBinding that let its sidecar read only its own ConfigMap).
OBJECT_KINDS = ("Pod", "Service", "ConfigMap", "ServiceAccount", "Role", "RoleBinding")
FUNCTIONS = 7  # per DataFlow
STEADY_SECONDS = 60


def _binaries() -> Path:
    result = subprocess.run(
        ["bash", str(REPO / "tests" / "apiserver" / "build.sh")],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return Path(result.stdout.strip().splitlines()[-1])


def _statuses(api: KubeApi) -> list[dict[str, object]]:
    flows, _ = api.list("DataFlow", NAMESPACE)
    return [flow.get("status") or {} for flow in flows]


def _deployed(api: KubeApi, count: int) -> bool:
    statuses = _statuses(api)
    return len(statuses) == count and all(s.get("status") == "Deployed" for s in statuses)


def _all_running(api: KubeApi) -> bool:
    return all(
        {f["phase"] for f in s.get("functions") or []} == {"Running"}  # type: ignore[attr-defined]
        for s in _statuses(api)
    )


def _quiet(controller: ControllerProcess, seconds: float = 3.0) -> bool:
    before = controller.writes()
    time.sleep(seconds)
    return controller.writes() == before


def floor_seconds(writes: float, qps: float, burst: int) -> float:
    """The least time ``writes`` take through a token bucket of ``burst`` then ``qps`` a second."""
    return max(0.0, writes - burst) / qps


def _times(seconds: float, floor: float) -> str:
    return f"converged in {seconds / floor:.2f}x that" if floor else "all within the burst"


def _last_warning(controller: ControllerProcess) -> str:
    warnings = [entry for entry in controller.log() if entry.get("level") in ("warning", "error")]
    return str(warnings[-1]) if warnings else "none"


def run(count: int, qps: float) -> None:
    burst = int(2 * qps)
    machine_before = environment()
    workdir = Path(tempfile.mkdtemp(prefix="kasugai-bench-"))
    print(f"starting etcd and kube-apiserver in {workdir} ...", flush=True)
    cluster = EphemeralCluster.start(_binaries(), workdir)
    controller = None
    kubelet = None
    try:
        admin = cluster.api_client()
        install_crds(admin, REPO / "manifests" / "crds")
        client.CoreV1Api(admin).create_namespace({"metadata": {"name": NAMESPACE}})
        install_tenant(admin, REPO / "manifests" / "tenant", NAMESPACE)
        inputs = relocated(load(CALC), NAMESPACE)
        template = next(obj for obj in inputs if obj["kind"] == "DataFlow")
        apply_objects(admin, [obj for obj in inputs if obj["kind"] != "DataFlow"])

        controller = start_controller(
            cluster.kubeconfig,
            workdir,
            "--namespace",
            NAMESPACE,
            "--leader-elect-resource-namespace",
            NAMESPACE,
            "--kube-api-qps",
            str(qps),
            "--kube-api-burst",
            str(burst),
        )
        wait_for(controller.ready, "the controller to be ready", timeout=120)
        wait_for(controller.leading, "the controller to lead", timeout=120)
        kubelet = FakeKubelet(admin, NAMESPACE)
        kubelet.start()
        api = KubeApi(admin)

        flows = dataflow_copies(template, [f"df-{i:03d}" for i in range(count)])
        started = time.monotonic()
        apply_objects(admin, flows)
        applied = time.monotonic() - started
        # Two writes per object (see the figure below), so give three times that floor.
        patience = 3 * floor_seconds(2 * count * FUNCTIONS * len(OBJECT_KINDS), qps, burst) + 120
        try:
            wait_for(lambda: _deployed(api, count), "every DataFlow Deployed", patience, 0.5)
        except TimeoutError:
            print(f"not converged; the controller's last warning: {_last_warning(controller)}")
            raise
        deployed = time.monotonic() - started
        wait_for(lambda: _all_running(api), "every function Running", patience, 0.5)
        wait_for(lambda: _quiet(controller), "the controller to go quiet", patience, 0)
        settled = time.monotonic() - started - 3.0

        objects = sum(
            len(api.list(kind, NAMESPACE, "app.kubernetes.io/managed-by=kasugai")[0])
            for kind in OBJECT_KINDS
        )
        object_writes = sum(
            controller.writes(verb=verb, kind=kind)
            for kind in OBJECT_KINDS
            for verb in ("create", "apply")
        )
        status_writes = controller.writes(verb="status")
        event_writes = controller.writes(kind="Event")
        memory = memory_mib(controller.process.pid)

        all_writes = controller.writes()
        time.sleep(STEADY_SECONDS)
        steady = controller.writes() - all_writes

        print()
        print(f"DataFlows: {count} x {FUNCTIONS} functions; objects created: {objects}")
        print(f"write limit: --kube-api-qps {qps:g} --kube-api-burst {burst}")
        print(f"apply of the {count} DataFlows took {applied:.1f} s (client side)")
        print(
            f"time to converge: {deployed:.1f} s to every DataFlow Deployed; "
            f"{settled:.1f} s to every function Running and the controller quiet"
        )
        objects_floor = floor_seconds(objects, qps, burst)
        writes_floor = floor_seconds(all_writes, qps, burst)
        print(
            f"write floor: {objects_floor:.1f} s for the objects alone "
            f"({_times(deployed, objects_floor)}); {writes_floor:.1f} s for all "
            f"{all_writes:.0f} writes made ({_times(deployed, writes_floor)})"
        )
        print(
            f"API writes per created object: {object_writes / objects:.3f} "
            f"({object_writes:.0f} creates and applies for {objects} objects; target 2: the "
            "create, and the apply that puts kasugai's fields on record)"
        )
        print(
            f"other writes: {status_writes:.0f} status, {event_writes:.0f} Events "
            f"({(status_writes + event_writes) / count:.1f} per DataFlow)"
        )
        print(f"steady state: {steady:.0f} writes in {STEADY_SECONDS} s (target 0)")
        print(
            f"controller resident memory: {memory['VmRSS']:.0f} MiB now, "
            f"{memory['VmHWM']:.0f} MiB peak"
        )
        errors = controller.total("kasugai_controller_write_errors_total")
        restarts = controller.total("kasugai_controller_watch_restarts_total")
        print(f"write errors: {errors:.0f}; watch restarts: {restarts:.0f}")
        print(f"machine before: {machine_before}")
        print(f"machine after: {environment()}")
    finally:
        if kubelet is not None:
            kubelet.stop()
        if controller is not None:
            controller.process.stop()
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("counts", nargs="*", type=int, default=[100], metavar="N")
    parser.add_argument("--qps", nargs="+", type=float, default=[50.0], metavar="Q")
    args = parser.parse_args()
    for count in args.counts:
        for qps in args.qps:
            run(count, qps)


if __name__ == "__main__":
    main()
