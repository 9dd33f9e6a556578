"""Benchmark of the reload sidecar: config change -> SIGHUP delivered, memory, start time.

    .venv/bin/python benchmarks/sidecar.py [--changes 200] [--no-api]

For the file source (the local runtime) and, when the cluster test tier's binaries are built
(tests/apiserver/build.sh), the Kubernetes API source against a real kube-apiserver: the time
from writing a new config (a rename of the JSON file, or the PATCH request of the ConfigMap) to
the function's SIGHUP handler running, measured on CLOCK_MONOTONIC in both processes. Changes
are spaced by more than the sidecar's minimum signal interval, as independent edits are.
Also: the sidecar's resident memory (VmRSS, VmHWM) and its start time (launch to first SIGHUP,
with the config and template already in place). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from figures import memory_mib, percentile

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "tests" / "fixtures" / "openkasugai" / "templates" / "calcapp-config.yaml.tmpl"
SIDECAR = Path(sys.executable).with_name("kasugai-sidecar")
POD = "bench-wbfunction-plus-cpu-pod"
SPACING_S = 0.15  # more than the default 100 ms minimum interval between two SIGHUPs

# The function: prints the CLOCK_MONOTONIC time of each SIGHUP it handles.
RECEIVER = """
import signal, sys, time
def on_hup(*_):
    sys.stdout.write(f"{time.monotonic()}\\n"); sys.stdout.flush()
signal.signal(signal.SIGHUP, on_hup)
sys.stdout.write("ready\\n"); sys.stdout.flush()
while True:
    time.sleep(3600)
"""


def config(port: int) -> str:
    return json.dumps({"ips": ["10.96.0.1"], "ports": [{"port": port, "protocol": "TCP"}]})


def start_receiver(workdir: Path) -> subprocess.Popen[str]:
    script = workdir / "bench_function.py"
    script.write_text(RECEIVER)
    receiver = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "K8S_POD_NAME": POD},
    )
    assert receiver.stdout is not None and receiver.stdout.readline() == "ready\n"
    return receiver


def start_sidecar(workdir: Path, source: str, extra: list[str]) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "K8S_POD_NAME": POD,
        "K8S_POD_NAMESPACE": os.environ.get("BENCH_NAMESPACE", "default"),
        "SIDECAR_MNG_PROSESS_NAME": "bench_function.py",
        "KASUGAI_LOG_FORMAT": "json",
    }
    log = (workdir / "sidecar.log").open("wb")
    return subprocess.Popen(
        [str(SIDECAR), "--source", source, "--config-dir", str(workdir / "config"), *extra],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )


def next_signal(receiver: subprocess.Popen[str]) -> float:
    assert receiver.stdout is not None
    return float(receiver.stdout.readline())


def measure(
    name: str, changes: int, change: Callable[[int], None], receiver: subprocess.Popen[str]
) -> list[float]:
    latencies = []
    for i in range(changes):
        started = time.monotonic()
        change(2000 + i)
        latencies.append(next_signal(receiver) - started)
        time.sleep(SPACING_S)
    report(name, latencies)
    return latencies


def report(name: str, latencies: list[float]) -> None:
    ms = sorted(x * 1000 for x in latencies)
    p99 = percentile(ms, 0.99)
    print(
        f"{name}: config change -> SIGHUP over {len(ms)} changes: "
        f"p50 {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, "
        f"min {ms[0]:.1f} ms, max {ms[-1]:.1f} ms"
    )


def bench_source(
    name: str,
    workdir: Path,
    source: str,
    extra: list[str],
    changes: int,
    change: Callable[[int], None],
) -> None:
    """Start a sidecar on ``source``; print its start time, ``changes`` latencies, its memory."""
    (workdir / "config").mkdir()
    (workdir / "config" / "config.yaml.tmpl").write_text(TEMPLATE.read_text())
    receiver = start_receiver(workdir)
    launched = time.monotonic()
    sidecar = start_sidecar(workdir, source, extra)
    try:
        first = next_signal(receiver)
        print(f"{name}: start time (launch -> first SIGHUP) {1000 * (first - launched):.0f} ms")
        measure(name, changes, change, receiver)
        mem = memory_mib(sidecar.pid)
        print(
            f"{name}: sidecar memory VmRSS {mem['VmRSS']:.1f} MiB, "
            f"peak VmHWM {mem['VmHWM']:.1f} MiB"
        )
    finally:
        sidecar.terminate()
        sidecar.wait(timeout=30)
        receiver.kill()
        receiver.wait()


def bench_file_source(changes: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        source = workdir / f"ethcrl.{POD}.json"
        source.write_text(config(1999))

        def change(port: int) -> None:
            staged = source.with_suffix(".tmp")
            staged.write_text(config(port))
            staged.rename(source)  # the atomic replace a writer does

        bench_source("file source", workdir, f"file:{source}", [], changes, change)


def bench_api_source(changes: int) -> None:
    found = subprocess.run(
        ["bash", str(REPO / "tests" / "apiserver" / "build.sh")], capture_output=True, text=True
    )
    if found.returncode != 0:
        print("api source: not measured, the cluster tier's binaries could not be built:")
        print(found.stderr[-2000:])
        return
    from kubernetes import client

    from kasugai.testing import EphemeralCluster

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        cluster = EphemeralCluster.start(Path(found.stdout.split()[-1]), workdir / "cluster")
        try:
            with cluster.api_client() as api:
                core = client.CoreV1Api(api)
                os.environ["BENCH_NAMESPACE"] = "default"
                name = f"ethcrl.{POD}"
                core.create_namespaced_config_map(
                    "default", {"metadata": {"name": name}, "data": {"config": config(1999)}}
                )

                def change(port: int) -> None:
                    core.patch_namespaced_config_map(
                        name, "default", {"data": {"config": config(port)}}
                    )

                extra = ["--kubeconfig", str(cluster.kubeconfig)]
                bench_source("api source", workdir, "kubernetes", extra, changes, change)
        finally:
            cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--no-api", action="store_true", help="skip the API source")
    args = parser.parse_args()
    bench_file_source(args.changes)
    if not args.no_api:
        bench_api_source(args.changes)


if __name__ == "__main__":
    main()
