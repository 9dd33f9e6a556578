"""The router against real in-process gRPC servers on loopback: a swap leaves calls in flight on
the old channel until they finish, a call that outlives the grace period comes back NG (it never
hangs), and a cancelled caller is not mistaken for a failed hop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import grpc
import pytest
from kasugai_functions.calc import operator_pb2, operator_pb2_grpc
from kasugai_functions.calc.config import NextHop
from kasugai_functions.calc.forwarding import Router

REQUEST = operator_pb2.OperateRequest(inputs=[1.0, 2.0])


class HeldServicer(operator_pb2_grpc.OperatorServiceServicer):
    """Replies OK, but only once ``release`` is set; counts the calls that arrived."""

    def __init__(self, held: bool) -> None:
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()
        self.calls = 0
        if not held:
            self.release.set()

    async def Operate(
        self, request: operator_pb2.OperateRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.OperateResponse:
        self.calls += 1
        self.arrived.set()
        await self.release.wait()
        return operator_pb2.OperateResponse(status=operator_pb2.OK)


@asynccontextmanager
async def serving(held: bool) -> AsyncIterator[tuple[HeldServicer, NextHop]]:
    servicer = HeldServicer(held)
    server = grpc.aio.server()
    operator_pb2_grpc.add_OperatorServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield servicer, NextHop("127.0.0.1", port)
    finally:
        await server.stop(None)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), timeout=120))


def test_a_swap_lets_the_call_in_flight_finish_on_the_old_channel() -> None:
    async def scenario() -> None:
        async with serving(held=True) as (old, old_hop), serving(held=False) as (new, new_hop):
            router = Router("test", grace_seconds=600)
            router.route_to(old_hop)
            in_flight = asyncio.create_task(router.forward(REQUEST, timeout=60))
            await old.arrived.wait()

            router.route_to(new_hop)
            assert (await router.forward(REQUEST, timeout=60)).ok
            assert (old.calls, new.calls) == (1, 1)
            assert not in_flight.done()

            old.release.set()
            assert (await in_flight).ok
            await router.close()

    run(scenario)


def test_a_call_that_outlives_the_grace_period_comes_back_ng() -> None:
    async def scenario() -> None:
        async with serving(held=True) as (old, old_hop), serving(held=False) as (_, new_hop):
            router = Router("test", grace_seconds=0.1)
            router.route_to(old_hop)
            in_flight = asyncio.create_task(router.forward(REQUEST, timeout=60))
            await old.arrived.wait()
            router.route_to(new_hop)
            outcome = await in_flight
            assert not outcome.ok
            assert "channel was retired" in outcome.reason
            old.release.set()
            await router.close()

    run(scenario)


def test_a_cancelled_caller_cancels_the_forward() -> None:
    async def scenario() -> None:
        async with serving(held=True) as (old, hop):
            router = Router("test", grace_seconds=600)
            router.route_to(hop)
            in_flight = asyncio.create_task(router.forward(REQUEST, timeout=60))
            await old.arrived.wait()
            in_flight.cancel()
            with pytest.raises(asyncio.CancelledError):
                await in_flight
            old.release.set()
            await router.close()

    run(scenario)


def test_without_a_route_the_reply_is_ng_with_the_reason() -> None:
    async def scenario() -> None:
        router = Router("minus", grace_seconds=1)
        outcome = await router.forward(REQUEST, timeout=0.2)  # the first config is waited for
        assert (outcome.ok, outcome.reason) == (False, "minus: no next hop configured yet")
        router.unroute("config.yaml is broken")
        assert (await router.forward(REQUEST, timeout=1)).reason == "minus: config.yaml is broken"

    run(scenario)
