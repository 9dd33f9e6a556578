"""Forwarding a request to the next hop, over one persistent channel that can be swapped live.

The original dialled a new connection per request and held a lock across the RPC, so a reload
during a request could deadlock. Here everything runs on one asyncio loop, so no lock exists: a
request takes the current route (a channel and its in-flight count) and keeps it for the whole
call; a reload installs a new route and retires the old one in the background, closing its channel
once its calls have finished, or after a grace period. Requests in flight never see the swap.
A channel is dialled only when the destination changes.
"""

from __future__ import annotations

import asyncio
import contextlib

import attrs
import grpc
import structlog
from structlog.typing import FilteringBoundLogger

from kasugai_functions.calc import operator_pb2, operator_pb2_grpc
from kasugai_functions.calc.config import NextHop
from kasugai_functions.calc.wire import reason_from, status_name

log = structlog.get_logger(__name__)

# A next hop that is starting is waited for this long before a request gets NG (one that was
# connected, and is restarting, up to the call's deadline: see _Route.was_ready): functions of a
# chain start in any order, and the first request must not fail for that.
READY_SECONDS = 10.0
# gRPC's default reconnect backoff (1 s, growing to 120 s) would keep a restarted next hop
# unused for minutes; functions on a chain reconnect quickly instead.
CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
)


# How a stopping next hop turns calls away: UNAVAILABLE for calls no server took, CANCELLED for
# calls it had taken but not started when it began to stop (grpc cancels them then). Neither ran
# a handler; only a call that outlived the next hop's whole stop grace period could run twice.
_REFUSED = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED})


@attrs.frozen
class Outcome:
    """What came back from the next hop: a status and, for NG, the reason."""

    status: operator_pb2.OperateResponseStatus
    reason: str = ""
    refused: bool = False  # by a next hop that is stopping: the call may be sent again

    @property
    def ok(self) -> bool:
        return self.status == operator_pb2.OK


_OK = Outcome(operator_pb2.OK)


@attrs.define
class _Route:
    """A live channel to one next hop and the calls that are using it."""

    hop: NextHop
    channel: grpc.aio.Channel
    stub: operator_pb2_grpc.OperatorServiceStub
    in_flight: int = 0
    idle: asyncio.Event = attrs.Factory(asyncio.Event)
    # Once connected, a next hop that is unreachable is being restarted or replaced (its Pod,
    # or kube-proxy's endpoints): calls then wait for it up to their deadline.
    was_ready: bool = False

    @classmethod
    def dial(cls, hop: NextHop) -> _Route:
        log.info("connecting", address=hop.target)
        channel = grpc.aio.insecure_channel(hop.target, options=CHANNEL_OPTIONS)
        channel.get_state(try_to_connect=True)  # connect now, not on the first request
        route = cls(hop=hop, channel=channel, stub=operator_pb2_grpc.OperatorServiceStub(channel))
        route.idle.set()
        return route


class Router:
    """The current route to the next hop, or the reason why there is none."""

    def __init__(self, name: str, grace_seconds: float) -> None:
        self._name = name  # says which function failed, in the reasons it gives
        self._grace_seconds = grace_seconds
        self._route: _Route | None = None
        self._no_route_reason = "no next hop configured yet"
        self._retiring: set[asyncio.Task[None]] = set()
        # Cleared while the first connection config is awaited: requests then wait for it (a Pod
        # replaced under the same address gets traffic before its sidecar has rendered).
        self._configured = asyncio.Event()

    @property
    def destination(self) -> NextHop | None:
        return self._route.hop if self._route else None

    def route_to(self, hop: NextHop) -> None:
        """Send new requests to ``hop``; dials only if it differs from the current one."""
        self._configured.set()
        if self._route is not None and self._route.hop == hop:
            return
        self._replace(_Route.dial(hop))

    def unroute(self, reason: str, awaiting_config: bool = False) -> None:
        """Stop forwarding: new requests get NG with ``reason`` (after waiting a little for a
        route, while ``awaiting_config`` says the first config is yet to come)."""
        self._no_route_reason = reason
        if not awaiting_config:
            self._configured.set()
        self._replace(None)

    def _replace(self, route: _Route | None) -> None:
        old, self._route = self._route, route
        if old is not None:
            task = asyncio.get_running_loop().create_task(self._retire(old))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def _retire(self, route: _Route) -> None:
        try:
            await asyncio.wait_for(route.idle.wait(), self._grace_seconds)
        except TimeoutError:
            log.warning(
                "closing old channel with calls still in flight",
                address=route.hop.target,
                in_flight=route.in_flight,
                grace_seconds=self._grace_seconds,
            )
        await route.channel.close()
        log.info("closed old channel", address=route.hop.target)

    async def forward(
        self,
        request: operator_pb2.OperateRequest,
        timeout: float,
        metadata: tuple[tuple[str, str], ...] = (),
        call_log: FilteringBoundLogger = log,
    ) -> Outcome:
        """Send ``request`` with ``metadata`` to the next hop; a failure is an NG with a reason.
        ``call_log``: the logger of the call (the server's has its request id bound).

        A call refused by a next hop that is stopping (see ``_REFUSED``) is sent once more: on
        the route installed meanwhile, or on the same one once it is back. That is what makes a
        rewiring lose nothing: a call that took the old route just before the swap, or that met
        a Pod being replaced under the same address, still arrives.
        """
        if not self._configured.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._configured.wait(), min(READY_SECONDS, timeout))
        route = self._route
        if route is None:
            return Outcome(operator_pb2.NG, f"{self._name}: {self._no_route_reason}")
        outcome = await self._call(route, request, timeout, metadata, call_log)
        if not outcome.refused:
            return outcome
        retry = self._route or route
        call_log.info("next hop refused the call, once more", address=retry.hop.target)
        return await self._call(retry, request, timeout, metadata, call_log, patient=True)

    async def _call(
        self,
        route: _Route,
        request: operator_pb2.OperateRequest,
        timeout: float,
        metadata: tuple[tuple[str, str], ...],
        call_log: FilteringBoundLogger,
        patient: bool = False,
    ) -> Outcome:
        route.in_flight += 1
        route.idle.clear()
        address = route.hop.target
        call_log.info("send message", address=address)
        try:
            wait = timeout if patient or route.was_ready else min(READY_SECONDS, timeout)
            if not await _ready(route.channel, wait):
                return Outcome(
                    operator_pb2.NG,
                    f"{self._name}: next hop {address} failed: UNAVAILABLE: "
                    f"not reachable within {wait:g} s",
                )
            route.was_ready = True
            call = route.stub.Operate(request, timeout=timeout, metadata=metadata)
            response = await call
        except grpc.aio.AioRpcError as error:
            return Outcome(
                operator_pb2.NG,
                f"{self._name}: next hop {address} failed: {error.code().name}: {error.details()}",
                refused=error.code() in _REFUSED,
            )
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # our own caller went away
            # gRPC cancels the calls of a channel it closes: this one outlived the grace period.
            return Outcome(
                operator_pb2.NG,
                f"{self._name}: next hop {address}: call cancelled, its channel was retired",
            )
        finally:
            route.in_flight -= 1
            if route.in_flight == 0:
                route.idle.set()
        call_log.info("recive message", address=address, status=status_name(response.status))
        if response.status == operator_pb2.OK:
            return _OK
        # Only an NG carries a reason (in the trailing metadata): an OK needs no second look.
        reason = reason_from(await call.trailing_metadata())
        return Outcome(
            operator_pb2.NG,
            reason or f"{self._name}: next hop {address} replied {status_name(response.status)}",
        )

    async def close(self) -> None:
        """Retire every channel; returns when all are closed."""
        self._replace(None)
        if self._retiring:
            await asyncio.wait(set(self._retiring))


async def _ready(channel: grpc.aio.Channel, seconds: float) -> bool:
    """Whether ``channel`` is (or becomes, within ``seconds``) connected."""
    if channel.get_state(try_to_connect=True) == grpc.ChannelConnectivity.READY:
        return True
    try:
        await asyncio.wait_for(channel.channel_ready(), seconds)
    except TimeoutError:
        return False
    return True
