"""Benchmark of the node test tier (kasugai.testing.node): what a test session pays for it.

Run by hand, as root: ``.venv/bin/python benchmarks/node_tier.py [ROUNDS]`` (default 3). It
builds (or finds cached) the binaries and images as the node tests' conftest does, then, per
round, starts a tier and prints:

* start until Pods can run (a Ready node, and the default ServiceAccount; the tier also prints
  when the node became Ready);
* importing the busybox image archive;
* a Pod from creation to Running (sandbox, CNI, container);
* stop, with the restore of the host (sysctls, iptables, cgroups, mounts, the bridge).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kubernetes import client

from kasugai.testing import wait_until
from kasugai.testing.node import (
    BUSYBOX_IMAGE,
    PAUSE_IMAGE,
    EphemeralNode,
    build_busybox_image,
    build_pause_image,
)

REPO = Path(__file__).resolve().parent.parent


def _cache() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kasugai"
    return Path(os.environ.get("KASUGAI_CACHE_DIR", default))


class _Stopwatch:
    """Prints how long each step of a round took."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        self.began = time.monotonic()

    def __exit__(self, *_exc: object) -> None:
        print(f"  {self.what:<28} {time.monotonic() - self.began:6.1f} s", flush=True)


def _pod_running(core: client.CoreV1Api) -> bool:
    return core.read_namespaced_pod("bench", "default").status.phase == "Running"


def _round(bin_dir: Path, pause: Path, busybox: Path, workdir: Path) -> None:
    with _Stopwatch("start, until Pods can run"):
        node = EphemeralNode.start(bin_dir, pause, workdir)
    try:
        with _Stopwatch("import the busybox image"):
            node.import_image(busybox)
        with node.api_client() as api, _Stopwatch("a Pod created to Running"):
            core = client.CoreV1Api(api)
            core.create_namespaced_pod("default", POD)
            wait_until(lambda: _pod_running(core), "the Pod Running", timeout=120)
    finally:
        with _Stopwatch("stop and restore the host"):
            node.stop()


POD = {
    "metadata": {"name": "bench"},
    "spec": {
        "terminationGracePeriodSeconds": 1,
        "containers": [
            {
                "name": "main",
                "image": BUSYBOX_IMAGE,
                "imagePullPolicy": "Never",
                "command": ["sleep", "3600"],
            }
        ],
    },
}


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    built = subprocess.run(
        ["bash", str(REPO / "tests" / "apiserver" / "build.sh")],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    bin_dir = Path(built.stdout.strip().splitlines()[-1])
    images = _cache() / "node"
    pause = build_pause_image(REPO / "tests" / "node" / "pause" / "pause.c", images, PAUSE_IMAGE)
    busybox = build_busybox_image(images)
    for number in range(1, rounds + 1):
        print(f"round {number}:")
        with tempfile.TemporaryDirectory(prefix="kasugai-node-bench-") as workdir:
            _round(bin_dir, pause, busybox, Path(workdir))


if __name__ == "__main__":
    main()
