"""The calcapp client: send the values to the first function and report the reply.

It prints the reply status on stdout (``OK``, or ``NG: <reason>``) and exits 0 only for OK, so a
script or a test can tell a chain that failed downstream from one that worked (the original
exited 0 either way).
"""

from __future__ import annotations

import sys

import grpc
import structlog

from kasugai.runtime_env import config_dir
from kasugai_functions.calc import operator_pb2, operator_pb2_grpc
from kasugai_functions.calc.cli import ClientInvocation
from kasugai_functions.calc.config import ConfigError, NextHop, read_config
from kasugai_functions.calc.wire import (
    REQUEST_ID_KEY,
    describe_request,
    new_request_id,
    reason_from,
    status_name,
)

# The whole chain must answer within this; each hop passes the remaining time on.
CLIENT_TIMEOUT_SECONDS = 30.0

log = structlog.get_logger(__name__)


def _destination(invocation: ClientInvocation) -> NextHop:
    if invocation.host:
        return NextHop(host=invocation.host, port=invocation.port)
    directory = config_dir(invocation.config_dir or None)
    hop = read_config(directory)
    log.info("load config", found=True, config={"next": {"host": hop.host, "port": hop.port}})
    return hop


def send(invocation: ClientInvocation) -> int:
    """Send one request; the exit status (0 for an OK reply)."""
    try:
        hop = _destination(invocation)
    except ConfigError as error:
        log.error("load config failed", error=str(error))
        print(f"error: {error}", file=sys.stderr)
        return 1
    request_id = invocation.request_id or new_request_id()
    structlog.contextvars.bind_contextvars(request_id=request_id)  # on every line from here
    request = operator_pb2.OperateRequest(inputs=invocation.values)
    log.info("send message", address=hop.target, request=describe_request(request))
    log.info("connecting", address=hop.target)
    with grpc.insecure_channel(hop.target) as channel:
        stub = operator_pb2_grpc.OperatorServiceStub(channel)
        try:
            response, call = stub.Operate.with_call(
                request,
                timeout=CLIENT_TIMEOUT_SECONDS,
                metadata=((REQUEST_ID_KEY, request_id),),
            )
        except grpc.RpcError as error:
            code, details = error.code(), error.details()
            log.error("send message failed", address=hop.target, code=code.name, details=details)
            print(f"error: {hop.target}: {code.name}: {details}", file=sys.stderr)
            return 1
    status = status_name(response.status)
    log.info("recive message", address=hop.target, response={"status": status})
    if response.status == operator_pb2.OK:
        print(status)
        return 0
    reason = reason_from(call.trailing_metadata())
    print(f"{status}: {reason}" if reason else status)
    return 1
