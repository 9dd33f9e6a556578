"""``kasugai-calc`` (``/calcapp`` in the image): the original calcapp command line.

Server: ``-server -port P -operator OP``. Client: ``[-host H] [-port P] VALUES...``; with no
``-host`` the client reads the next hop from ``<config dir>/config.yaml``, as the Go client did
from /config. ``-idle``: install the config template and wait (a Pod that only runs clients).
All take ``--config-dir DIR`` (else ``KASUGAI_CONFIG_DIR``, else /config). A server serves
/metrics on ``--metrics-port`` (see ``kasugai_functions.metrics_endpoint``); the client sends
``--request-id`` (else a fresh one) as ``x-request-id``, which every hop logs and passes on.
Exit status: 0 on success (client: the reply was OK), 1 on failure or an NG reply, 2 on bad usage.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence

import attrs

from kasugai_functions.calc.arithmetic import Operator
from kasugai_functions.calc.goflags import (
    Flag,
    FlagError,
    FlagValue,
    HelpRequested,
    describe_flags,
    parse_flags,
    parse_go_float,
)

OPERATOR_NAMES = ",".join(operator.value for operator in Operator)
FLAGS = (
    Flag("server", False, "run server mode"),
    Flag("idle", False, "install the config template, then wait (the send function's Pod)"),
    Flag("port", 8080, "port number"),
    Flag("host", "", "host address (client; default: next.host of config.yaml)"),
    Flag("operator", "", f"operator <{OPERATOR_NAMES}>"),
    Flag("config-dir", "", "config directory (default $KASUGAI_CONFIG_DIR, else /config)"),
    Flag(
        "metrics-port",
        "",
        "server: port of /metrics, 0 for none (default $KASUGAI_METRICS_PORT, else 9464)",
    ),
    Flag("request-id", "", "client: the x-request-id every hop logs (default: a fresh one)"),
)
USAGE = """Usage: {program}
(server mode) -server -port <port> -operator <operator>
(client mode) -host <host> -port <port> <1.0 ...values>

"""


@attrs.frozen
class ServerInvocation:
    operator: Operator
    port: int
    config_dir: str
    metrics_port: int | None = None  # None: from the environment


@attrs.frozen
class IdleInvocation:
    config_dir: str


@attrs.frozen
class ClientInvocation:
    values: tuple[float, ...]
    host: str  # "" means: read the next hop from config.yaml
    port: int
    config_dir: str
    request_id: str = ""  # "": a fresh one


def interpret(
    flags: dict[str, FlagValue], arguments: Sequence[str]
) -> ServerInvocation | ClientInvocation | IdleInvocation:
    """What the parsed command line asks for; FlagError naming the flag when it makes no sense."""
    port = int(flags["port"])
    config_dir = str(flags["config-dir"])
    if flags["idle"]:
        if arguments or flags["server"]:
            raise FlagError("-idle takes no values and no -server")
        return IdleInvocation(config_dir)
    if not 1 <= port <= 65535:
        raise FlagError(f"-port: expected a port from 1 to 65535, got {port}")
    if flags["server"]:
        if arguments:
            raise FlagError(f"server mode takes no values, got {' '.join(arguments)}")
        try:
            operator = Operator(flags["operator"])
        except ValueError:
            raise FlagError(
                f"-operator: expected one of {OPERATOR_NAMES}, got {flags['operator']!r}"
            ) from None
        metrics_port = None
        if flags["metrics-port"] != "":
            # Imported here: prometheus-client is not needed for the flag errors above.
            from kasugai_functions.metrics_endpoint import parse_metrics_port

            try:
                metrics_port = parse_metrics_port(str(flags["metrics-port"]), "-metrics-port")
            except ValueError as error:
                raise FlagError(str(error)) from None
        return ServerInvocation(operator, port, config_dir, metrics_port)
    if not arguments:
        raise FlagError("zero values: give the numbers to send, e.g. 1 2 3")
    values = []
    for argument in arguments:
        try:
            values.append(parse_go_float(argument))
        except ValueError as error:
            raise FlagError(f"values: {error}") from None
    host = str(flags["host"])
    if host:
        # Imported here: the config module pulls in YAML, which the flag errors above do not need.
        from kasugai_functions.calc.config import validate_host

        try:
            validate_host(host)
        except ValueError as error:
            raise FlagError(f"-host: {host!r}: {error}") from None  # the user's own flag
    request_id = str(flags["request-id"])
    if request_id:
        from kasugai_functions.calc.wire import REQUEST_ID_RULE, is_valid_request_id

        if not is_valid_request_id(request_id):
            raise FlagError(f"-request-id: expected {REQUEST_ID_RULE}, got {request_id!r}")
    return ClientInvocation(tuple(values), host, port, config_dir, request_id)


def usage(program: str) -> str:
    return USAGE.format(program=program) + describe_flags(FLAGS)


def _keep_rich_out() -> None:
    """Make ``import rich`` fail in this process: a function logs JSON or plain lines, but
    structlog imports rich (for pretty tracebacks) whenever it is installed, which costs a
    function's start about 50 ms and its memory 5 MiB. structlog then formats tracebacks plainly.
    Only before structlog is first imported, so a process that already has it is left alone."""
    if "structlog" not in sys.modules:
        sys.modules.setdefault("rich", None)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    _keep_rich_out()
    # A sidecar may send SIGHUP as soon as the template is installed; until the server's handler
    # is in place the default action would kill us. The config is read after the handler exists.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    program, *args = sys.argv if argv is None else ["kasugai-calc", *argv]
    try:
        invocation = interpret(*parse_flags(FLAGS, args))
    except HelpRequested:
        sys.stderr.write(usage(program))
        return 0
    except FlagError as error:
        sys.stderr.write(f"{error}\n{usage(program)}")
        return 2

    # Imported only now: gRPC takes a while to load, and usage errors should not wait for it.
    from kasugai.runtime_env import config_dir, configure_logging

    configure_logging()
    if isinstance(invocation, IdleInvocation):
        from kasugai_functions.calc.idle import idle

        return idle(config_dir(invocation.config_dir or None))
    if isinstance(invocation, ServerInvocation):
        import asyncio

        from kasugai_functions.calc.server import serve

        directory = config_dir(invocation.config_dir or None)
        return asyncio.run(
            serve(invocation.operator, invocation.port, directory, invocation.metrics_port)
        )
    from kasugai_functions.calc.client import send

    return send(invocation)
