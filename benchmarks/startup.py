"""Start-up and idle footprint of one calc function, and the sample client's one-shot run.

Figures, each over ``--runs`` runs (median, min, max):

- exec → accepting TCP: a calc server (``-server -operator plus``) is started and its port polled
  with connect() on loopback every millisecond until one succeeds;
- the client one-shot: ``-host H -port P 1 2 3`` run as its own process against a running plus hop
  that forwards to a running receiver, from exec to exit (status 0 checked);
- idle RSS of the plus hop a second after it accepts, and again after 1,000 requests over one
  channel: VmRSS (/proc/<pid>/status) and Rss/Pss (/proc/<pid>/smaps_rollup), in MiB.

The program under test is the venv's ``kasugai-calc`` entry point unless ``--calc`` names another
command, e.g. ``functions/calc/calcapp`` (the image's launcher; set ``CALCAPP_PYTHON``). ``--image``
runs this same file inside the calc image (``podman run --network=host``) against ``/calcapp``, so
the figures include the image's install and Python, not the container's start. The floor (Python,
grpcio and the stubs, nothing else): ``--calc "python benchmarks/grpc_floor.py"``, in the image
``--image --calc "python3 /bench/grpc_floor.py"``.
One uncounted run first warms the caches (.pyc files, the page cache), as a node that has run the
image before; ``PYTHONDONTWRITEBYTECODE`` is dropped from the programs' environment.
Every server listens on 127.0.0.1 only and logs as it does in a cluster (JSON, to /dev/null here).

    .venv/bin/python benchmarks/startup.py [--runs 9] [--calc CMD] [--image [REF]]
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from figures import cpu_seconds, memory_mib, smaps_mib

DEFAULT_IMAGE = "localhost/kasugai/calc:latest"
ACCEPT_DEADLINE_SECONDS = 30.0
SETTLE_SECONDS = 1.0  # after the first accept, before the idle reading
VALUES = ("1", "2", "3")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def default_calc() -> list[str]:
    venv_script = Path(sys.executable).parent / "kasugai-calc"
    found = venv_script if venv_script.exists() else shutil.which("kasugai-calc")
    if found is None:
        raise SystemExit("kasugai-calc not found: run `make setup`, or give --calc")
    return [str(found)]


def wait_accepting(port: int, process: subprocess.Popen[bytes]) -> float:
    """Poll connect() until the port accepts; the perf_counter time it first did."""
    deadline = time.perf_counter() + ACCEPT_DEADLINE_SECONDS
    while time.perf_counter() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return time.perf_counter()
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before accepting")
        time.sleep(0.001)
    raise RuntimeError(f"port {port} not accepting after {ACCEPT_DEADLINE_SECONDS} s")


def memory(pid: int) -> dict[str, float]:
    """VmRSS, and Rss and Pss, in MiB."""
    return {"VmRSS": memory_mib(pid)["VmRSS"], **smaps_mib(pid)}


class Calc:
    """Starts calc servers (and clients) from one command prefix, each in its own config dir."""

    def __init__(self, command: Sequence[str], workdir: Path) -> None:
        self.command = list(command)
        self.workdir = workdir
        self.env = {**os.environ, "KASUGAI_POD_IP": "127.0.0.1", "KASUGAI_LOG_FORMAT": "json"}
        # As a Pod runs it: .pyc files are read (and written on a first run), whatever this shell
        # says.
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self._dirs = 0

    def _config_dir(self, next_port: int | None) -> Path:
        self._dirs += 1
        directory = self.workdir / f"config-{self._dirs}"
        directory.mkdir()
        if next_port is not None:
            (directory / "config.yaml").write_text(
                f"next:\n  host: 127.0.0.1\n  port: {next_port}\n"
            )
        return directory

    def start(
        self, operator: str, port: int, next_port: int | None = None
    ) -> tuple[subprocess.Popen[bytes], float, float]:
        """A server process, the ms from exec to accepting on ``port`` and the CPU ms it took."""
        directory = self._config_dir(next_port)
        argv = [
            *self.command,
            *("-server", "-port", str(port), "-operator", operator),
            *("--config-dir", str(directory), "--metrics-port", str(free_port())),
        ]
        started = time.perf_counter()
        process = subprocess.Popen(
            argv, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            accepted = wait_accepting(port, process)
            cpu = cpu_seconds(process.pid) * 1000
        except BaseException:
            stop(process)
            raise
        return process, (accepted - started) * 1000, cpu

    def one_shot(self, port: int) -> tuple[float, float]:
        """The ms from exec to exit of the client sending 1 2 3 to 127.0.0.1:``port``, and the
        CPU ms it used."""
        argv = [*self.command, "-host", "127.0.0.1", "-port", str(port), *VALUES]
        started = time.perf_counter()
        process = subprocess.Popen(
            argv, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        assert process.stdout is not None
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        process.stdout.close()
        if process.returncode != 0 or output.strip() != b"OK":
            raise RuntimeError(f"client: exit {process.returncode}, printed {output!r}")
        return elapsed * 1000, (usage.ru_utime + usage.ru_stime) * 1000


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running(processes: list[subprocess.Popen[bytes]]) -> Iterator[None]:
    try:
        yield
    finally:
        for process in processes:
            stop(process)


def send_requests(port: int, count: int) -> None:
    """``count`` calls over one channel, one at a time (imported here: the parent needs no gRPC
    for the start-up figures)."""
    import grpc
    from kasugai_functions.calc import operator_pb2, operator_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = operator_pb2_grpc.OperatorServiceStub(channel)
        request = operator_pb2.OperateRequest(inputs=[1.0, 2.0, 3.0])
        for _ in range(count):
            if stub.Operate(request, timeout=30).status != operator_pb2.OK:
                raise RuntimeError("an NG reply: the hop is broken")


def summary(name: str, values: Sequence[float], unit: str) -> str:
    return (
        f"{name:<50} median {statistics.median(values):8.1f}  "
        f"min {min(values):8.1f}  max {max(values):8.1f} {unit}"
    )


def measure(calc: Calc, runs: int, requests: int) -> None:
    accept_ms: list[float] = []
    accept_cpu_ms: list[float] = []
    client_ms: list[float] = []
    client_cpu_ms: list[float] = []
    idle: dict[str, list[float]] = {}
    loaded: dict[str, list[float]] = {}
    first_accept_ms = first_cpu_ms = 0.0
    for run in range(runs + 1):  # run 0 warms the caches (.pyc, page cache) and is not counted
        receiver_port, hop_port = free_port(), free_port()
        receiver, _, _ = calc.start("receiver", receiver_port)
        with running([receiver]):
            hop, elapsed, cpu = calc.start("plus", hop_port, next_port=receiver_port)
            with running([hop]):
                if run == 0:
                    first_accept_ms, first_cpu_ms = elapsed, cpu
                    calc.one_shot(hop_port)
                    continue
                accept_ms.append(elapsed)
                accept_cpu_ms.append(cpu)
                time.sleep(SETTLE_SECONDS)
                for name, value in memory(hop.pid).items():
                    idle.setdefault(name, []).append(value)
                elapsed, cpu = calc.one_shot(hop_port)
                client_ms.append(elapsed)
                client_cpu_ms.append(cpu)
                send_requests(hop_port, requests)
                for name, value in memory(hop.pid).items():
                    loaded.setdefault(name, []).append(value)
    print(
        f"{'first start (uncounted; cold if no .pyc yet)':<50} {first_accept_ms:15.1f} ms"
        f"  CPU {first_cpu_ms:.0f} ms"
    )
    print(summary("calc server: exec -> accepting TCP", accept_ms, "ms"))
    print(summary("  CPU used by then (user+sys, 10 ms ticks)", accept_cpu_ms, "ms"))
    print(summary("client one-shot (1 2 3 -> plus hop): exec -> exit", client_ms, "ms"))
    print(summary("  CPU used (user+sys)", client_cpu_ms, "ms"))
    for name in ("VmRSS", "Rss", "Pss"):
        print(summary(f"calc server idle {name}", idle[name], "MiB"))
    for name in ("VmRSS", "Rss", "Pss"):
        print(summary(f"calc server {name} after {requests} requests", loaded[name], "MiB"))


def run_in_image(image: str, arguments: Sequence[str]) -> int:
    """This file, run by the image's Python (against its /calcapp unless ``--calc`` says
    otherwise), on the host's network; benchmarks/ is mounted at /bench."""
    from kasugai.testing.podman import Podman, ulimit_flags  # this machine's podman flags

    argv = Podman().argv(
        *("run", "--rm", "--network=host", *ulimit_flags(), "--entrypoint", "python3"),
        *("-v", f"{Path(__file__).resolve().parent}:/bench:ro", image),
        *("/bench/startup.py", *arguments),
    )
    print("$", shlex.join(argv), flush=True)
    return subprocess.run(argv, check=False).returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--requests", type=int, default=1000, help="before the loaded reading")
    parser.add_argument("--calc", help="the calc command (default: the venv's kasugai-calc)")
    parser.add_argument(
        "--image", nargs="?", const=DEFAULT_IMAGE, help=f"run inside an image ({DEFAULT_IMAGE})"
    )
    options = parser.parse_args(argv)
    if options.image:
        forwarded = ["--runs", str(options.runs), "--requests", str(options.requests)]
        return run_in_image(options.image, [*forwarded, "--calc", options.calc or "/calcapp"])
    command = shlex.split(options.calc) if options.calc else default_calc()
    print(f"cpus {os.cpu_count()}  python {sys.version.split()[0]}  calc {shlex.join(command)}")
    print("shared machine: other work may run alongside; figures are medians over runs")
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
    with tempfile.TemporaryDirectory(prefix="kasugai-startup-") as workdir:
        measure(Calc(command, Path(workdir)), options.runs, options.requests)
    print("load average after:  {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
