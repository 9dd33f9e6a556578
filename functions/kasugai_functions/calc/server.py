"""The calcapp server: compute, append the result, forward the request, reply.

One asyncio loop runs the gRPC server, the signal handling and the config reloads. SIGHUP only sets
an event; a task then reads config.yaml and swaps the route (see ``forwarding``), so nothing heavy
runs in a signal handler and no lock is ever held across an RPC. The config is read at start too,
so a restarted function is connected at once (the original waited for the next SIGHUP).

Every request is counted (``metrics``) and logged with its ``request_id``: the caller's
``x-request-id``, or a fresh one at the first hop, bound to the call's logger and passed on.
The received message is forwarded as it is, with this hop's result appended.
/metrics is served from a thread of its own (``metrics_endpoint``).
"""

from __future__ import annotations

import asyncio
import math
import signal
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import structlog

from kasugai.runtime_env import listen_host
from kasugai_functions.calc import operator_pb2, operator_pb2_grpc
from kasugai_functions.calc.arithmetic import Operator, compute
from kasugai_functions.calc.config import (
    CONFIG_FILE,
    ConfigError,
    ConfigMissing,
    ensure_template,
    grpc_target,
    is_own_address,
    read_config,
)
from kasugai_functions.calc.forwarding import Router
from kasugai_functions.calc.metrics import CalcMetrics
from kasugai_functions.calc.turn_log import batched_per_loop_turn
from kasugai_functions.calc.wire import (
    REQUEST_ID_KEY,
    describe_request,
    describe_results,
    new_request_id,
    reason_metadata,
    request_id_from,
    status_name,
)
from kasugai_functions.metrics_endpoint import serve_metrics

# No hop waits longer than this for the rest of the chain; a retired channel drains this long.
FORWARD_TIMEOUT_SECONDS = 30.0
STOP_GRACE_SECONDS = 5.0

log = structlog.get_logger(__name__)


class OperatorServicer(operator_pb2_grpc.OperatorServiceServicer):
    """``Operate`` for one operator: the receiver logs the result, the others forward."""

    def __init__(self, operator: Operator, router: Router, metrics: CalcMetrics) -> None:
        self._operator = operator
        self._router = router
        self._metrics = metrics
        # Bound once (logging is configured by now): the module's lazy proxy would build a new
        # logger on every call. Each request binds its id onto this one.
        self._log = log.bind()

    async def Operate(
        self, request: operator_pb2.OperateRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.OperateResponse:
        started = time.perf_counter()
        self._metrics.requests.inc()
        request_id = request_id_from(context.invocation_metadata()) or new_request_id()
        status = await self._handle(request, context, request_id)
        self._metrics.replied(status, started, time.perf_counter())
        return operator_pb2.OperateResponse(status=status)

    async def _handle(
        self,
        request: operator_pb2.OperateRequest,
        context: grpc.aio.ServicerContext,
        request_id: str,
    ) -> operator_pb2.OperateResponseStatus:
        call_log = self._log.bind(request_id=request_id)
        call_log.info("start call Do", req=describe_request(request))
        if not self._operator.forwards:
            # The demo's output: one line a tool can read.
            call_log.info("result", inputs=list(request.inputs), results=describe_results(request))
            return operator_pb2.OK
        value = compute(self._operator, request.inputs, [r.value for r in request.results])
        # The received message is forwarded as it is, with one more result.
        request.results.add(operator=self._operator.result_name, value=value)
        # The caller's deadline, when it set one, holds for the rest of the chain too.
        remaining = context.time_remaining()
        timeout = min(FORWARD_TIMEOUT_SECONDS, math.inf if remaining is None else remaining)
        forward_started = time.perf_counter()
        outcome = await self._router.forward(
            request, timeout, ((REQUEST_ID_KEY, request_id),), call_log
        )
        self._metrics.forwarded(outcome.ok, time.perf_counter() - forward_started)
        if not outcome.ok:
            call_log.error("forward failed", reason=outcome.reason)
            context.set_trailing_metadata(reason_metadata(outcome.reason))
        call_log.info("end call Do", status=status_name(outcome.status))
        return outcome.status


class NextHopFollower:
    """Points the router at the next hop in config.yaml; a bad file leaves the route alone."""

    def __init__(
        self, directory: Path, router: Router, host: str, port: int, metrics: CalcMetrics
    ) -> None:
        self._directory = directory
        self._router = router
        self._metrics = metrics
        self._host = host
        self._port = port
        self._loaded_once = False

    def reload(self) -> None:
        self._follow()
        current = self._router.destination
        self._metrics.set_next_hop(current.target if current else "")

    def _follow(self) -> None:
        path = self._directory / CONFIG_FILE
        try:
            hop = read_config(self._directory)
        except ConfigError as error:
            self._report_unusable(path, error)
            return
        self._loaded_once = True
        next_hop = {"host": hop.host, "port": hop.port}
        log.info("load config", path=str(path), found=True, next=next_hop)
        if is_own_address(hop, self._host, self._port):
            reason = (
                f"next hop {hop.target} is this function itself: the connection config is empty "
                "(is this the last function of the chain?)"
            )
            log.warning("not forwarding", reason=reason)
            self._router.unroute(reason)
            return
        self._router.route_to(hop)

    def _report_unusable(self, path: Path, error: ConfigError) -> None:
        if not self._loaded_once:
            # Requests get NG saying why; a config yet to be rendered is waited for a little.
            self._router.unroute(str(error), awaiting_config=isinstance(error, ConfigMissing))
            if isinstance(error, ConfigMissing):  # normal until the sidecar's first render
                log.warning("load config", path=str(path), found=False, reason=str(error))
            else:
                log.error("load config failed", path=str(path), error=str(error))
            return
        current = self._router.destination
        log.error(
            "load config failed",
            path=str(path),
            error=str(error),
            keeping_next=current.target if current else None,
        )


def _log_ignored_reload() -> None:
    log.info("load config skipped: the receiver forwards nothing")


async def _follow_reloads(requested: asyncio.Event, reload: Callable[[], None]) -> None:
    while True:
        await requested.wait()
        requested.clear()  # SIGHUPs that arrive while reloading coalesce into one more reload
        reload()


async def serve(
    operator: Operator, port: int, directory: Path, metrics_port: int | None = None
) -> int:
    """Run the server until SIGTERM or SIGINT; the exit status.

    ``metrics_port``: the ``--metrics-port`` flag (None: ``KASUGAI_METRICS_PORT`` or 9464)."""
    with batched_per_loop_turn(asyncio.get_running_loop()):
        return await _serve(operator, port, directory, metrics_port)


async def _serve(operator: Operator, port: int, directory: Path, metrics_port: int | None) -> int:
    loop = asyncio.get_running_loop()
    reload_requested = asyncio.Event()
    stop_requested = asyncio.Event()
    loop.add_signal_handler(signal.SIGHUP, reload_requested.set)
    loop.add_signal_handler(signal.SIGTERM, stop_requested.set)
    loop.add_signal_handler(signal.SIGINT, stop_requested.set)

    ensure_template(directory)  # a failure is logged; the server answers requests anyway
    host = listen_host()
    router = Router(operator.value, grace_seconds=FORWARD_TIMEOUT_SECONDS)
    metrics = CalcMetrics(forwards=operator.forwards)
    reload = _log_ignored_reload
    if operator.forwards:
        reload = NextHopFollower(directory, router, host, port, metrics).reload

    # Without so_reuseport a second server on the same address fails loudly instead of sharing.
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    operator_pb2_grpc.add_OperatorServiceServicer_to_server(
        OperatorServicer(operator, router, metrics), server
    )
    address = grpc_target(host, port)
    try:
        server.add_insecure_port(address)
    except RuntimeError as error:
        log.error("server listener failed", address=address, error=str(error))
        await router.close()
        return 1
    await server.start()
    # The config is read once the port accepts (a request that comes first waits for the route,
    # ``Router``): reading it loads YAML and the bounded parser, which would delay accepting.
    if operator.forwards:
        reload()
    metrics_server = serve_metrics(metrics.registry, host, metrics_port)
    log.info("start gRPC server", address=address, operator=operator.value)

    async with asyncio.TaskGroup() as tasks:
        reloader = tasks.create_task(_follow_reloads(reload_requested, reload))
        await stop_requested.wait()
        reloader.cancel()
    log.info("stopping gRPC server", address=address)
    await server.stop(STOP_GRACE_SECONDS)
    await router.close()
    if metrics_server is not None:
        metrics_server.stop()
    log.info("end gRPC server", address=address)
    return 0
