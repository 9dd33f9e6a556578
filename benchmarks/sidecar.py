"""Benchmark of the reload sidecar: start time, idle memory, config change -> SIGHUP.

    .venv/bin/python benchmarks/sidecar.py [--starts 5] [--changes 60] [--no-api] [--no-file]
                                           [--sidecar "COMMAND ..." | --image IMAGE]

For the file source (the local runtime) and, when the cluster test tier's binaries are built
(tests/apiserver/build.sh), the Kubernetes API source against a real kube-apiserver on loopback
(the admin kubeconfig, a bearer token):

* exec -> first SIGHUP: from just before the sidecar is launched (config and template already
  in place) to the function's SIGHUP handler running, on CLOCK_MONOTONIC in both processes;
  with the CPU time (user + system) the sidecar had used by then, a figure that a busy machine
  disturbs less than the wall clock;
* idle memory, ``IDLE_S`` after the first SIGHUP: VmRSS and VmHWM (/proc/PID/status) and Pss
  (/proc/PID/smaps_rollup: shared pages split between the processes that map them);
* config change -> SIGHUP, over ``--changes`` changes in the last start: from just before the
  change is written (a rename of the JSON file, or the PATCH request of the ConfigMap) to the
  SIGHUP handler. Changes are spaced by more than the sidecar's minimum signal interval.

Medians over ``--starts`` starts, with the machine's CPU count, Python version and load average
before and after (on a shared machine, compare runs only at similar load). ``--sidecar`` runs
another command than this venv's ``kasugai-sidecar`` (an older checkout, say); ``--image`` runs
the sidecar image's ``/sidecar`` under podman (host network and PID namespace, the benchmark's
folder mounted at its own path), where "exec" is ``podman run`` and so includes the container's
creation, and the CPU and memory are the container's sidecar process's. Prints figures; asserts
nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from figures import cpu_seconds, memory_mib, percentile, smaps_mib

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "tests" / "fixtures" / "openkasugai" / "templates" / "calcapp-config.yaml.tmpl"
SIDECAR = [str(Path(sys.executable).with_name("kasugai-sidecar"))]
POD = "bench-wbfunction-plus-cpu-pod"
NAMESPACE = "default"
SPACING_S = 0.15  # more than the default 100 ms minimum interval between two SIGHUPs
IDLE_S = 2.0

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

Change = Callable[[int], None]
ENV_NAMES = ("K8S_POD_NAME", "K8S_POD_NAMESPACE", "SIDECAR_MNG_PROSESS_NAME", "KASUGAI_LOG_FORMAT")
CONTAINER = "kasugai-bench-sidecar"


@dataclass(frozen=True)
class Launcher:
    """How the sidecar starts: a command here, or (``image``) a container under podman."""

    command: list[str]
    image: bool = False

    def pid(self, process: subprocess.Popen[bytes]) -> int:
        """The sidecar's own process (in a container: not podman's)."""
        if not self.image:
            return process.pid
        from kasugai.testing.podman import Podman

        found = Podman().run("inspect", "--format", "{{.State.Pid}}", CONTAINER)
        return int(found.stdout)


def image_launcher(image: str, root: Path) -> Launcher:
    from kasugai.testing.podman import Podman, ulimit_flags

    command = Podman().argv(
        "run", "--rm", "--name", CONTAINER, "--network", "host", "--pid", "host",
        *ulimit_flags(), "--volume", f"{root}:{root}", *(f"--env={n}" for n in ENV_NAMES),
        image, "/sidecar",
    )  # fmt: skip
    return Launcher(command, image=True)


def config(port: int) -> str:
    return json.dumps({"ips": ["10.96.0.1"], "ports": [{"port": port, "protocol": "TCP"}]})


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


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


def next_signal(receiver: subprocess.Popen[str]) -> float:
    assert receiver.stdout is not None
    return float(receiver.stdout.readline())


@contextmanager
def pod(
    workdir: Path, sidecar: Launcher, source: str, extra: list[str]
) -> Iterator[tuple[subprocess.Popen[str], subprocess.Popen[bytes], float]]:
    """A function and its sidecar; yields both and the sidecar's launch time."""
    (workdir / "config").mkdir()
    (workdir / "config" / "config.yaml.tmpl").write_text(TEMPLATE.read_text())
    receiver = start_receiver(workdir)
    env = {
        **os.environ,
        "K8S_POD_NAME": POD,
        "K8S_POD_NAMESPACE": NAMESPACE,
        "SIDECAR_MNG_PROSESS_NAME": "bench_function.py",
        "KASUGAI_LOG_FORMAT": "json",
    }
    log = (workdir / "sidecar.log").open("wb")
    argv = [*sidecar.command, "--source", source, "--config-dir", str(workdir / "config"), *extra]
    launched = time.monotonic()
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        yield receiver, process, launched
    finally:
        process.terminate()
        process.wait(timeout=30)
        receiver.kill()
        receiver.wait()


def summary(values: list[float], unit: str) -> str:
    median = statistics.median(values)
    return f"median {median:.1f} {unit} (min {min(values):.1f}, max {max(values):.1f})"


def bench_source(
    name: str,
    root: Path,
    sidecar: Launcher,
    source: str,
    extra: list[str],
    starts: int,
    changes: int,
    change: Change,
) -> None:
    start_ms: list[float] = []
    start_cpu: list[float] = []
    rss: list[float] = []
    pss: list[float] = []
    hwm: list[float] = []
    latencies: list[float] = []
    for run in range(starts):
        workdir = root / f"{name.replace(' ', '-')}-{run}"
        workdir.mkdir()
        with pod(workdir, sidecar, source, extra) as (receiver, process, launched):
            first = next_signal(receiver)
            pid = sidecar.pid(process)
            start_cpu.append(cpu_seconds(pid) * 1000)
            start_ms.append(1000 * (first - launched))
            time.sleep(IDLE_S)
            memory = memory_mib(pid)
            rss.append(memory["VmRSS"])
            hwm.append(memory["VmHWM"])
            pss.append(smaps_mib(pid)["Pss"])
            if run == starts - 1:
                for i in range(changes):
                    began = time.monotonic()
                    change(2000 + i)
                    latencies.append(1000 * (next_signal(receiver) - began))
                    time.sleep(SPACING_S)
    print(f"{name}: exec -> first SIGHUP over {starts} starts: {summary(start_ms, 'ms')}")
    print(f"{name}: sidecar CPU (user+sys) until its first SIGHUP: {summary(start_cpu, 'ms')}")
    print(
        f"{name}: idle memory {IDLE_S:.0f} s after the first SIGHUP, medians over {starts} "
        f"starts: VmRSS {statistics.median(rss):.1f} MiB, Pss {statistics.median(pss):.1f} MiB "
        f"(VmHWM {statistics.median(hwm):.1f} MiB)"
    )
    if latencies:
        ms = sorted(latencies)
        print(
            f"{name}: config change -> SIGHUP over {len(ms)} changes: "
            f"p50 {statistics.median(ms):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, "
            f"min {ms[0]:.1f} ms, max {ms[-1]:.1f} ms"
        )


def bench_file_source(root: Path, sidecar: Launcher, starts: int, changes: int) -> None:
    root.mkdir()
    source = root / f"ethcrl.{POD}.json"
    source.write_text(config(1999))

    def change(port: int) -> None:
        staged = source.with_suffix(".tmp")
        staged.write_text(config(port))
        staged.rename(source)  # the atomic replace a writer does

    bench_source("file source", root, sidecar, f"file:{source}", [], starts, changes, change)


def bench_api_source(root: Path, sidecar: Launcher, starts: int, changes: int) -> None:
    found = subprocess.run(
        ["bash", str(REPO / "tests" / "apiserver" / "build.sh")], capture_output=True, text=True
    )
    if found.returncode != 0:
        print("api source: not measured, the cluster tier's binaries could not be built:")
        print(found.stderr[-2000:])
        return
    from kasugai_sidecar.kube_access import from_kubeconfig
    from kasugai_sidecar.kube_http import Api

    from kasugai.testing import EphemeralCluster

    root.mkdir()
    cluster = EphemeralCluster.start(Path(found.stdout.split()[-1]), root / "cluster")
    try:
        # The sidecar's own lean client: the PATCH costs the benchmark little of the time.
        api = Api(from_kubeconfig(str(cluster.kubeconfig)))
        path = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
        name = f"ethcrl.{POD}"
        body = {"metadata": {"name": name}, "data": {"config": config(1999)}}
        api.request("POST", path, body=body, timeout=(5, 30))

        def change(port: int) -> None:
            api.request(
                "PATCH",
                f"{path}/{name}",
                body={"data": {"config": config(port)}},
                content_type="application/merge-patch+json",
                timeout=(5, 30),
            )

        extra = ["--kubeconfig", str(cluster.kubeconfig)]
        bench_source("api source", root, sidecar, "kubernetes", extra, starts, changes, change)
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--changes", type=int, default=60)
    parser.add_argument("--no-api", action="store_true", help="skip the API source")
    parser.add_argument("--no-file", action="store_true", help="skip the file source")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--sidecar", help="the sidecar command (default: this venv's)")
    which.add_argument("--image", help="run this sidecar image's /sidecar under podman")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.image:
            sidecar = image_launcher(args.image, root)
            shown = f"image {args.image} (with its own Python)"
        else:
            sidecar = Launcher(shlex.split(args.sidecar) if args.sidecar else SIDECAR)
            shown = " ".join(sidecar.command)
        print(
            f"environment: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"sidecar {shown}; load average before {load()}"
        )
        if not args.no_file:
            bench_file_source(root / "file", sidecar, args.starts, args.changes)
        if not args.no_api:
            bench_api_source(root / "api", sidecar, args.starts, args.changes)
    print(f"load average after {load()}")


if __name__ == "__main__":
    main()
