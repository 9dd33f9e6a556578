"""Benchmark of kasugai on a real single node (the node tier): what a deployment and a rewiring
cost, with the controller, the functions and the sidecars all running as Pods of their images.

    .venv/bin/python benchmarks/cluster.py [--edits 20] [--skip-cold]

Run by hand, as root, when no other node tier runs (it takes the tier's machine-wide lock).
Prints, and asserts nothing:

* kasugai's images: the warm build (every image found by its inputs hash), the archives, the sizes;
  then, last (``--skip-cold`` leaves it out), the cold build of benchmarks/images.py, 4-7 minutes;
* the tier: start to a Ready node, to Pods being able to run, and each image's import;
* ``kubectl apply -k manifests/`` until both controller replicas are Ready and one holds the Lease;
* kasugai's portable calc sample (manifests/samples/calc) applied until every Pod runs, and until
  every function with a next hop has loaded it (a server logs ``load config`` with the address;
  the idle send Pod's sidecar logs ``rendered``);
* chain edits (minus and multiply swapped, and back: plus, minus and multiply get new next hops,
  no Pod changes), each until every affected function reloaded; p50 and p99 of the whole, and of
  its parts as the logs tell them: the API write of the edit, the controller (its watch, plan and
  the ConfigMap write, until it logs ``applied``), the sidecar's watch (until ``config accepted``),
  the render, the SIGHUP (``sighup sent``) and the function's reload (``load config``).

Times from logs are the containers' JSON log timestamps: one host, one clock. A step's end is
taken as no later than the next step's (another process may log the next step first: the sidecar
can see the ConfigMap before the controller logs its write's answer).

Measured on 2 busy cores (3 Dec 2026): a Ready node in 5-6 s; the calc DataFlow's Pods all Running
4.8 s after the apply and every function loaded 15.6 s after it, most of it Python compiling the
kubernetes client at each container's start (the images ship no .pyc: 2.2 s for the sidecar's
imports alone, 0.7 s once compiled); a chain edit reloads its functions in 78 ms (p50), 127 ms
(p99); cold images 185 s.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import attrs
from figures import percentile
from kubernetes import client

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from e2e_cluster import APP, MANIFESTS, SIDECAR, SYSTEM, Kube, Sample  # noqa: E402

from kasugai.testing.images import build_images  # noqa: E402
from kasugai.testing.node import EphemeralNode, prepare_node_inputs  # noqa: E402

T = TypeVar("T")
SAMPLE = Sample(
    REPO / "manifests" / "samples" / "calc",
    "cpufunc-calcapp",
    "df-calcapp",
    ("send", "plus", "minus", "multiply", "divide", "average", "rcv"),
)
SWAPPED = ("send", "plus", "multiply", "minus", "divide", "average", "rcv")
PATIENCE = 300.0


def row(label: str, seconds: float) -> None:
    print(f"  {label:<52}{seconds:8.1f} s", flush=True)


def timed(label: str, action: Callable[[], T]) -> T:
    started = time.monotonic()
    result = action()
    row(label, time.monotonic() - started)
    return result


def wait(probe: Callable[[], T], what: str, interval: float = 0.1) -> T:
    deadline = time.monotonic() + PATIENCE
    while not (value := probe()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} after {PATIENCE:.0f} s")
        time.sleep(interval)
    return value


def stamp(event: dict[str, Any]) -> float:
    """A log line's timestamp (ISO, UTC) as seconds since the epoch, like time.time()."""
    return datetime.datetime.fromisoformat(event["timestamp"]).timestamp()


def first(events: list[dict[str, Any]], after: float, **fields: Any) -> float | None:
    """The time of the first event at or after ``after`` whose fields match."""
    for event in events:
        if stamp(event) >= after and all(event.get(k) == v for k, v in fields.items()):
            return stamp(event)
    return None


# --- images and the tier ------------------------------------------------------------------------


def images() -> list[Any]:
    print("images", flush=True)
    built = timed(
        "warm build and archives (found by inputs hash)",
        lambda: build_images(export=True, say=lambda _: None),
    )
    for image in built:
        archive = image.archive.stat().st_size / 1e6 if image.archive else 0
        print(f"    {image.spec.name:<12}{image.size / 1e6:7.0f} MB, archive {archive:5.0f} MB")
    return built


def start_node(workdir: Path, built: list[Any]) -> EphemeralNode:
    print("node tier", flush=True)
    inputs = prepare_node_inputs()
    began = time.monotonic()
    node = EphemeralNode.start(inputs.bin_dir, inputs.pause_archive, workdir)
    row("start to a Ready node", node.ready_seconds)
    row("start until Pods can run (ServiceAccounts made)", time.monotonic() - began)
    try:
        for image in built:
            timed(f"import {image.spec.name}", lambda image=image: node.import_image(image.archive))
    except BaseException:
        node.stop()
        raise
    return node


# --- the controller and a deployment ------------------------------------------------------------


def install(kube: Kube) -> None:
    print("controller", flush=True)
    began = time.monotonic()
    kube.kubectl("apply", "-k", str(MANIFESTS))
    wait(lambda: len(kube.controller_pods()) == 2, "two Ready controller replicas")
    row("apply -k manifests/ until 2 replicas are Ready", time.monotonic() - began)
    wait(kube.lease_holder, "a Lease holder")
    row("... and one holds the Lease", time.monotonic() - began)


def next_hops(kube: Kube, keys: tuple[str, ...]) -> dict[str, str]:
    """Each function's next hop in the chain ``keys``: the next Service's clusterIP."""
    return {
        key: kube.cluster_ip(SAMPLE.namespace, SAMPLE.service(after))
        for key, after in itertools.pairwise(keys)
    }


def loaded_at(kube: Kube, key: str, ip: str, after: float) -> float | None:
    """When the function ``key`` loaded next hop ``ip`` (at or after ``after``)."""
    pod = SAMPLE.pod(key)
    if key == "send":  # idle: its client reads what the sidecar rendered
        events = kube.logs(SAMPLE.namespace, pod, SIDECAR)
        accepted = first(
            [e for e in events if e.get("event") == "config accepted"], after, ips=[ip]
        )
        return accepted and first([e for e in events if e.get("event") == "rendered"], accepted)
    loads = kube.events(SAMPLE.namespace, pod, APP, "load config")
    return first([e for e in loads if (e.get("next") or {}).get("host") == ip], after)


def deploy(kube: Kube) -> None:
    print("DataFlow (manifests/samples/calc, 7 functions)", flush=True)
    applied = time.time()
    kube.apply_file(SAMPLE.folder)
    running: dict[str, float] = {}

    def all_running() -> bool:
        for key in SAMPLE.keys:
            if key not in running and kube.running(SAMPLE.namespace, SAMPLE.pod(key)):
                running[key] = time.time()
        return len(running) == len(SAMPLE.keys)

    wait(all_running, "every Pod Running", interval=0.2)
    row("applied -> first Pod Running", min(running.values()) - applied)
    row("applied -> every Pod Running", max(running.values()) - applied)
    hops = next_hops(kube, SAMPLE.keys)
    loaded = {
        key: wait(
            lambda key=key, ip=ip: loaded_at(kube, key, ip, applied), f"{key} to load {ip}", 0.5
        )
        for key, ip in hops.items()
    }
    row("applied -> every function loaded its next hop", max(loaded.values()) - applied)
    row("  (the last Pod Running -> the last load)", max(loaded.values()) - max(running.values()))
    steps: dict[str, list[float]] = {}
    for key, ip in hops.items():
        events = kube.logs(SAMPLE.namespace, SAMPLE.pod(key), SIDECAR)
        started = first([e for e in events if e.get("event") == "sidecar started"], applied)
        accepted = first(
            [e for e in events if e.get("event") == "config accepted"], applied, ips=[ip]
        )
        if started is None or accepted is None:
            raise RuntimeError(f"{key}'s sidecar log lacks its start or its config")
        marks = {
            "Pod Running (seen) -> sidecar started": (running[key], started),
            "sidecar started -> config accepted": (started, accepted),
            "config accepted -> function loaded it": (accepted, loaded[key]),
        }
        for name, (begin, end) in marks.items():
            steps.setdefault(name, []).append(end - begin)
    for name, values in steps.items():
        print(
            f"    {name:<50}{percentile(values, 0.5):6.1f} s (median), {max(values):5.1f} s (max)"
        )


# --- chain edits ------------------------------------------------------------------------------


@attrs.frozen
class Edit:
    sent: float  # before the patch request
    stored: float  # its answer: the API server stored the edit
    hops: dict[str, str]  # the functions whose next hop changed -> the new address


def connections(order: tuple[str, ...]) -> list[dict[str, Any]]:
    ends = ("wb-start-of-chain", *order, "wb-end-of-chain")
    return [
        {
            "from": {"functionKey": a, "port": 0},
            "to": {"functionKey": b, "port": 0},
            "connectionTypeName": "auto",
        }
        for a, b in itertools.pairwise(ends)
    ]


def edit_chain(kube: Kube, order: tuple[str, ...], hops: dict[str, str]) -> Edit:
    chains = client.CustomObjectsApi(kube.api)
    body = {"spec": {"connections": connections(order)}}
    sent = time.time()
    chains.patch_namespaced_custom_object(
        "example.com",
        "v1",
        SAMPLE.namespace,
        "functionchains",
        SAMPLE.chain()["metadata"]["name"],
        body,
    )
    edit = Edit(sent, time.time(), hops)
    for key, ip in hops.items():
        wait(lambda key=key, ip=ip: loaded_at(kube, key, ip, sent), f"{key} to reload {ip}", 0.2)
    return edit


PARTS = ("API write of the edit", "controller (watch, plan, ConfigMap write)", "sidecar watch",
         "render", "SIGHUP", "function reload")  # fmt: skip


def parts(kube: Kube, edits: list[Edit]) -> tuple[list[float], dict[str, list[float]]]:
    """Per edit, the time until its last affected function reloaded; per part, every
    (edit, function) sample."""
    leader = kube.lease_holder()
    controller = kube.logs(SYSTEM, leader, "controller")
    applied = [e for e in controller if e.get("event") == "applied"]
    logs = {
        key: (
            kube.logs(SAMPLE.namespace, SAMPLE.pod(key), SIDECAR),
            kube.logs(SAMPLE.namespace, SAMPLE.pod(key), APP),
        )
        for key in ("plus", "minus", "multiply")
    }
    totals, split = [], {name: [] for name in PARTS}
    for edit in edits:
        finished = []
        for key, ip in edit.hops.items():
            sidecar, app = logs[key]
            pod = SAMPLE.pod(key)
            answered = first(
                applied, edit.sent, object=f"ConfigMap/{SAMPLE.namespace}/ethcrl.{pod}"
            )
            accepted = first(
                [e for e in sidecar if e.get("event") == "config accepted"], edit.sent, ips=[ip]
            )
            rendered = accepted and first(
                [e for e in sidecar if e.get("event") == "rendered"], accepted
            )
            signalled = rendered and first(
                [e for e in sidecar if e.get("event") == "sighup sent"], rendered
            )
            loads = [
                e
                for e in app
                if e.get("event") == "load config" and (e.get("next") or {}).get("host") == ip
            ]
            reloaded = rendered and first(loads, rendered)
            found = (edit.sent, edit.stored, answered, accepted, rendered, signalled, reloaded)
            if not all(found):
                raise RuntimeError(f"{key}'s logs lack a step of an edit to {ip}: {found}")
            marks = monotone([float(mark) for mark in found])
            for name, begin, end in zip(PARTS, marks[:-1], marks[1:], strict=True):
                split[name].append(end - begin)
            finished.append(reloaded)
        totals.append(max(finished) - edit.sent)
    return totals, split


def monotone(marks: list[float]) -> list[float]:
    """Each step's end no later than the next one's: a program logs a step after it happened,
    and another process may log the next step first (the sidecar gets the ConfigMap before the
    controller has its write's answer; the function reloads before ``sighup sent`` is logged)."""
    for i in range(len(marks) - 2, -1, -1):
        marks[i] = min(marks[i], marks[i + 1])
    return marks


def edits(kube: Kube, count: int) -> None:
    print(f"chain edits ({count}: minus and multiply swapped, and back)", flush=True)
    orders = (SWAPPED, SAMPLE.keys)
    done = []
    for i in range(count):
        order = orders[i % 2]
        before = next_hops(kube, orders[(i + 1) % 2])
        after = next_hops(kube, order)
        changed = {key: ip for key, ip in after.items() if before.get(key) != ip}
        done.append(edit_chain(kube, order, changed))
        time.sleep(0.5)  # let the last SIGHUP's minimum interval pass; not part of a figure
    totals, split = parts(kube, done)
    print(f"  {'':<52}{'p50':>8}{'p99':>9}")
    print(f"  {'edit -> every affected function reloaded':<52}{ms(totals)}")
    for name in PARTS:
        print(f"    {name:<50}{ms(split[name])}")


def ms(values: list[float]) -> str:
    return f"{percentile(values, 0.5) * 1000:6.0f} ms{percentile(values, 0.99) * 1000:6.0f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=20, help="chain edits to time (default 20)")
    parser.add_argument("--skip-cold", action="store_true", help="leave out the cold image build")
    args = parser.parse_args()
    built = images()
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as scratch:
        node = start_node(Path(scratch), built)
        try:
            with node.api_client() as api:
                kube = Kube(node, api)
                install(kube)
                deploy(kube)
                edits(kube, args.edits)
        finally:
            timed("stop the tier and restore the host", node.stop)
    if not args.skip_cold:
        print("cold image build (benchmarks/images.py: its own image store and cache)", flush=True)
        subprocess.run([sys.executable, str(REPO / "benchmarks" / "images.py")], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
