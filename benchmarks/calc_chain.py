"""Throughput, latency and CPU per request through the calcapp sample chain: plus → minus →
multiply → divide → average_results → receiver, six real processes on loopback.

A load driver plays "send": it calls plus over one persistent gRPC connection with the values
1 2 3 4 5, C calls in flight, and times each call from send to reply (the reply comes back only
after the receiver has logged the result, so a call spans the whole chain: six gRPC hops). Every
function logs each request as JSON to a file and counts it in its metrics, as in a cluster.

The driver is ghz (https://ghz.sh, Go) when it has been built (``benchmarks/build_ghz.sh``, or
``--driver ghz`` builds it), so that the driver is not the bottleneck; otherwise an asyncio Python
driver in this process, which the output says (it competes with the chain for the CPUs).

Per concurrency level and round: req/s, p50/p99, and the CPU each function used (from
``/proc/<pid>/stat``) divided by the calls, summed over the six; the figures are medians over the
rounds, the levels interleaved. Each function's RSS idle (before any call) and after the run.
Prints figures; asserts nothing, except that every reply was OK (plus's /metrics is read).

    .venv/bin/python benchmarks/calc_chain.py [--requests 3000] [--concurrency 1 8 32]
        [--rounds 3] [--driver auto|ghz|python]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
import grpc
from figures import cpu_seconds, environment, memory_mib, percentile
from kasugai_functions.calc import operator_pb2, operator_pb2_grpc
from kasugai_functions.calc.testing import SAMPLE_CHAIN, CalcProcess, LocalCalc
from prometheus_client.parser import text_string_to_metric_families

HERE = Path(__file__).resolve().parent
PROTO = HERE.parent / "functions" / "kasugai_functions" / "calc" / "operator.proto"
METHOD = "calcapp.grpc.operator.OperatorService.Operate"
VALUES = (1.0, 2.0, 3.0, 4.0, 5.0)
WARMUP_REQUESTS = 200
METRICS_PORT = 9464  # the functions' default /metrics port, on each one's own address
CALL_TIMEOUT_SECONDS = 60


@attrs.frozen
class Run:
    """One driver run at one concurrency level."""

    calls: int
    seconds: float
    p50_ms: float
    p99_ms: float
    driver_cpu_seconds: float


async def _python_drive(target: str, requests: int, concurrency: int) -> Run:
    began_cpu = time.process_time()
    latencies: list[float] = []
    async with grpc.aio.insecure_channel(target) as channel:
        stub = operator_pb2_grpc.OperatorServiceStub(channel)
        remaining = requests

        async def sender() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                request = operator_pb2.OperateRequest(inputs=VALUES)
                started = time.perf_counter()
                await stub.Operate(request, timeout=CALL_TIMEOUT_SECONDS)
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        async with asyncio.TaskGroup() as senders:
            for _ in range(concurrency):
                senders.create_task(sender())
        wall = time.perf_counter() - began
    return Run(
        calls=len(latencies),
        seconds=wall,
        p50_ms=percentile(latencies, 0.50) * 1e3,
        p99_ms=percentile(latencies, 0.99) * 1e3,
        driver_cpu_seconds=time.process_time() - began_cpu,
    )


def python_driver(target: str, requests: int, concurrency: int) -> Run:
    return asyncio.run(_python_drive(target, requests, concurrency))


def ghz_driver(ghz: Path) -> Callable[[str, int, int], Run]:
    def drive(target: str, requests: int, concurrency: int) -> Run:
        command = [
            str(ghz),
            "--insecure",
            f"--proto={PROTO}",
            f"--import-paths={PROTO.parent}",
            f"--call={METHOD}",
            "--data=" + json.dumps({"inputs": list(VALUES)}),
            f"--total={requests}",
            f"--concurrency={concurrency}",
            "--connections=1",
            f"--timeout={CALL_TIMEOUT_SECONDS}s",
            "--format=json",
            target,
        ]
        before = os.times()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        after = os.times()
        if done.returncode != 0:
            raise RuntimeError(f"ghz failed ({done.returncode}): {done.stderr or done.stdout}")
        report = json.loads(done.stdout)
        errors = report.get("errorDistribution") or {}
        if errors:
            raise RuntimeError(f"ghz saw failed calls: {errors}")
        latencies = {p["percentage"]: p["latency"] / 1e6 for p in report["latencyDistribution"]}
        return Run(
            calls=report["count"],
            seconds=report["total"] / 1e9,
            p50_ms=latencies[50],
            p99_ms=latencies[99],
            driver_cpu_seconds=(after.children_user + after.children_system)
            - (before.children_user + before.children_system),
        )

    return drive


def ghz_path(build: bool) -> Path | None:
    """ghz from build_ghz.sh's cache; built first when ``build`` (None: not there)."""
    script = HERE / "build_ghz.sh"
    if build:
        # Its progress and errors go to our stderr; the path is the last line of its stdout.
        done = subprocess.run(["bash", str(script)], stdout=subprocess.PIPE, text=True, check=True)
        return Path(done.stdout.strip().splitlines()[-1])
    cache = os.environ.get("KASUGAI_CACHE_DIR") or (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kasugai"
    )
    found = sorted(Path(cache, "ghz").glob("v*/ghz"))
    return found[-1] if found else None


def replies(function: CalcProcess) -> dict[str, float]:
    """The function's ``kasugai_function_replies`` counters by status, from its /metrics."""
    url = f"http://{function.host}:{METRICS_PORT}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "kasugai_function_replies":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    counts[sample.labels["status"]] = sample.value
    return counts


@attrs.frozen
class Measured:
    run: Run
    cpu_ms_per_call: dict[str, float]  # by function name


def measure(
    drive: Callable[[str, int, int], Run],
    chain: Sequence[CalcProcess],
    requests: int,
    concurrency: int,
) -> Measured:
    first = chain[0]
    ok_before = replies(first).get("OK", 0.0)
    cpu_before = {f.name: cpu_seconds(f.process.pid) for f in chain}
    run = drive(first.address, requests, concurrency)
    cpu_after = {f.name: cpu_seconds(f.process.pid) for f in chain}
    counts = replies(first)
    if counts.get("NG", 0.0) or counts.get("OK", 0.0) - ok_before != run.calls:
        raise RuntimeError(f"the chain is broken: plus replied {counts} for {run.calls} calls")
    return Measured(
        run,
        {f.name: (cpu_after[f.name] - cpu_before[f.name]) * 1e3 / run.calls for f in chain},
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="calls per level and round")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--rounds", type=int, default=3, help="rounds; figures are medians")
    parser.add_argument(
        "--driver",
        choices=["auto", "ghz", "python"],
        default="auto",
        help="auto: ghz if built, else Python; ghz: build it first if needed",
    )
    options = parser.parse_args()

    ghz = None if options.driver == "python" else ghz_path(build=options.driver == "ghz")
    if ghz is not None:
        drive = ghz_driver(ghz)
        driver = f"ghz ({ghz}), one connection"
    else:
        drive = python_driver
        driver = "the Python driver, one channel, in this process"
        if options.driver == "auto":
            driver += (
                " (ghz not built: run benchmarks/build_ghz.sh or pass --driver ghz; the Python"
                " driver competes with the chain for the CPUs)"
            )
    print(f"calc chain: {' → '.join(o.value for o in SAMPLE_CHAIN)}, values 1 2 3 4 5")
    print(f"driver: {driver}")
    print(f"before: {environment()}")

    with tempfile.TemporaryDirectory() as workdir, LocalCalc(Path(workdir)) as calc:
        chain = calc.start_chain(SAMPLE_CHAIN)
        idle_rss = {f.name: memory_mib(f.process.pid)["VmRSS"] for f in chain}
        drive(chain[0].address, WARMUP_REQUESTS, 4)
        results: dict[int, list[Measured]] = {c: [] for c in options.concurrency}
        for _ in range(options.rounds):
            for concurrency in options.concurrency:
                results[concurrency].append(measure(drive, chain, options.requests, concurrency))
        after_rss = {f.name: memory_mib(f.process.pid) for f in chain}

        print(f"{options.requests} calls per level and round, {options.rounds} round(s), medians:")
        print(
            f"{'concurrency':>11} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7}"
            f" {'CPU ms/call (6 functions)':>26} {'driver CPU ms/call':>19}"
        )
        for concurrency, runs in results.items():

            def median(figure: Callable[[Measured], float], runs: list[Measured] = runs) -> float:
                return statistics.median(figure(m) for m in runs)

            print(
                f"{concurrency:>11} {median(lambda m: m.run.calls / m.run.seconds):>7.0f}"
                f" {median(lambda m: m.run.p50_ms):>7.1f} {median(lambda m: m.run.p99_ms):>7.1f}"
                f" {median(lambda m: sum(m.cpu_ms_per_call.values())):>26.2f}"
                f" {median(lambda m: m.run.driver_cpu_seconds * 1e3 / m.run.calls):>19.2f}"
            )
        print("per function: CPU ms per call (median) at each level; RSS MiB idle, now, peak")
        header = "".join(f" {'c=' + str(c):>7}" for c in results)
        print(f"{'function':>20}{header} {'idle':>6} {'now':>6} {'peak':>6}")
        for function in chain:
            cpu = "".join(
                f" {statistics.median(m.cpu_ms_per_call[function.name] for m in runs):>7.2f}"
                for runs in results.values()
            )
            rss = after_rss[function.name]
            print(
                f"{function.name:>20}{cpu} {idle_rss[function.name]:>6.1f}"
                f" {rss['VmRSS']:>6.1f} {rss['VmHWM']:>6.1f}"
            )
    print(f"after: {environment()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
