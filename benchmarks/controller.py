"""Benchmark of the controller on a real API server: N DataFlows of the 7-function calc chain.

Run by hand: ``.venv/bin/python benchmarks/controller.py [N] [-- controller flags...]``
(default N=100). It starts etcd and kube-apiserver on loopback (``kasugai.testing``, binaries
from ``tests/apiserver/build.sh``), ``kasugai controller`` as a subprocess and a fake kubelet
(Pods Running, load-balancer IPs), applies the chain's inputs, then N DataFlows at once, and
prints:

* time to converge: until every DataFlow is Deployed (7 Pods, 7 Services, 7 published
  ConfigMaps each), and until every function also shows Running and the controller is quiet;
* API writes per created object (target 1: one Server-Side Apply each), with the status and
  Event writes beside it;
* writes per minute in the steady state that follows (target 0), over one minute;
* the controller's resident memory (now, and its peak).

The controller's write limit is its default (``--kube-api-qps 50 --kube-api-burst 100``) unless
flags after ``--`` say otherwise.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from figures import memory_mib
from kubernetes import client

from kasugai.adapters.kube.api import KubeApi
from kasugai.testing import EphemeralCluster, install_crds
from kasugai.testing.controller import ControllerProcess, start_controller, wait_for
from kasugai.testing.fake_kubelet import FakeKubelet
from kasugai.testing.inputs import apply_objects, dataflow_copies, load, relocated

REPO = Path(__file__).resolve().parent.parent
CALC = REPO / "tests" / "fixtures" / "openkasugai" / "calc-func" / "basic"
NAMESPACE = "bench"
OBJECT_KINDS = ("Pod", "Service", "ConfigMap")


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


def run(count: int, controller_flags: list[str]) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="kasugai-bench-"))
    print(f"starting etcd and kube-apiserver in {workdir} ...", flush=True)
    cluster = EphemeralCluster.start(_binaries(), workdir)
    controller = None
    kubelet = None
    try:
        admin = cluster.api_client()
        install_crds(admin, REPO / "manifests" / "crds")
        client.CoreV1Api(admin).create_namespace({"metadata": {"name": NAMESPACE}})
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
            *controller_flags,
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
        wait_for(lambda: _deployed(api, count), "every DataFlow Deployed", 1800, 0.5)
        deployed = time.monotonic() - started
        wait_for(lambda: _all_running(api), "every function Running", 1800, 0.5)
        wait_for(lambda: _quiet(controller), "the controller to go quiet", 1800, 0)
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

        before = controller.writes()
        time.sleep(60)
        steady = controller.writes() - before

        print()
        print(f"DataFlows: {count} x 7 functions; objects created: {objects}")
        print(f"apply of the {count} DataFlows took {applied:.1f} s (client side)")
        print(
            f"time to converge: {deployed:.1f} s to every DataFlow Deployed; "
            f"{settled:.1f} s to every function Running and the controller quiet"
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
        print(f"steady state: {steady:.0f} writes per minute (target 0)")
        print(
            f"controller resident memory: {memory['VmRSS']:.0f} MiB now, "
            f"{memory['VmHWM']:.0f} MiB peak"
        )
        errors = controller.total("kasugai_controller_write_errors_total")
        restarts = controller.total("kasugai_controller_watch_restarts_total")
        print(f"write errors: {errors:.0f}; watch restarts: {restarts:.0f}")
    finally:
        if kubelet is not None:
            kubelet.stop()
        if controller is not None:
            controller.process.stop()
        cluster.stop()


def main(argv: list[str]) -> None:
    split = argv.index("--") if "--" in argv else len(argv)
    count = int(argv[0]) if split > 0 else 100
    run(count, argv[split + 1 :])


if __name__ == "__main__":
    main(sys.argv[1:])
