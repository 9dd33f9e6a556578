"""Throughput and latency through the 7-function calc chain (send → plus → minus → multiply →
divide → average_results → receiver), as real processes on loopback.

This process plays "send": it calls plus over one gRPC channel with N requests in flight, and
measures each call from send to reply (the reply comes back only after the receiver has logged the
result, so a call spans the whole chain). Every server logs each request as JSON, as in a cluster.

    .venv/bin/python benchmarks/calc_chain.py [--requests 2000] [--concurrency 1 16]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc
from figures import percentile
from kasugai_functions.calc import operator_pb2, operator_pb2_grpc
from kasugai_functions.calc.testing import SAMPLE_CHAIN, LocalCalc

HOPS = len(SAMPLE_CHAIN)  # gRPC calls per request: send → plus, then one per forwarding function
WARMUP_REQUESTS = 100


async def drive(target: str, requests: int, concurrency: int) -> tuple[float, list[float]]:
    """Send ``requests`` calls, ``concurrency`` at a time; wall seconds and per-call latencies."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = operator_pb2_grpc.OperatorServiceStub(channel)
        latencies: list[float] = []
        remaining = requests

        async def sender() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                request = operator_pb2.OperateRequest(inputs=[1.0, 2.0, 3.0])
                started = time.perf_counter()
                reply = await stub.Operate(request, timeout=60)
                latencies.append(time.perf_counter() - started)
                if reply.status != operator_pb2.OK:
                    raise RuntimeError(f"reply {reply.status}: the chain is broken")

        began = time.perf_counter()
        async with asyncio.TaskGroup() as senders:
            for _ in range(concurrency):
                senders.create_task(sender())
        return time.perf_counter() - began, latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="calls per concurrency level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as workdir, LocalCalc(Path(workdir)) as calc:
        first = calc.start_chain(SAMPLE_CHAIN)[0]
        asyncio.run(drive(first.address, WARMUP_REQUESTS, 4))
        print(f"calc chain: {HOPS + 1} functions, {HOPS} gRPC hops, {options.requests} requests")
        print(f"{'concurrency':>11} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'p50/hop ms':>10}")
        for concurrency in options.concurrency:
            wall, latencies = asyncio.run(drive(first.address, options.requests, concurrency))
            p50, p99 = percentile(latencies, 0.50) * 1e3, percentile(latencies, 0.99) * 1e3
            print(
                f"{concurrency:>11} {len(latencies) / wall:>8.0f} {p50:>8.2f} {p99:>8.2f}"
                f" {p50 / HOPS:>10.2f}"
            )
        mean = statistics.fmean(latencies) * 1e3
        print(f"(last level: mean {mean:.2f} ms; p50/hop = p50 / {HOPS}, an average per hop)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
