"""The ``/metrics`` endpoint every long-running function program serves, next to its data.

It listens on the function's own address (``kasugai.runtime_env.listen_host``), port from
``--metrics-port``, else ``KASUGAI_METRICS_PORT``, else 9464 (what kasugai's Pod annotations tell
Prometheus); ``0`` turns it off. Metrics must never stop a function: a port that is taken (two
hostNetwork Pods on one node) or a bad setting is one warning saying what to change, and the
function serves its data without the endpoint.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:  # the server itself is imported when it starts: after the function's own port
    from prometheus_client import CollectorRegistry

    from kasugai.health_server import ProbeServer

__all__ = [
    "DEFAULT_METRICS_PORT",
    "METRICS_PORT_ENV",
    "parse_metrics_port",
    "serve_metrics",
]

METRICS_PORT_ENV = "KASUGAI_METRICS_PORT"
DEFAULT_METRICS_PORT = 9464  # kasugai.core.pods.METRICS_PORT: the annotations name this port

log = structlog.get_logger("kasugai.metrics")


def parse_metrics_port(text: str, source: str) -> int:
    """A port from 0 (off) to 65535; ValueError naming ``source`` (a flag or the env var)."""
    try:
        port = int(text.strip(), 10)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ValueError(
            f"{source}: expected a port from 1 to 65535, or 0 to turn /metrics off, got {text!r}"
        )
    return port


def _configured_port(cli_value: int | None) -> int | None:
    """The port to use: the flag, else the env var, else the default; None if the env is bad."""
    if cli_value is not None:
        return cli_value
    text = os.environ.get(METRICS_PORT_ENV)
    if text is None or text == "":
        return DEFAULT_METRICS_PORT
    try:
        return parse_metrics_port(text, METRICS_PORT_ENV)
    except ValueError as error:
        log.warning("metrics endpoint off", reason=str(error), fix=f"fix {METRICS_PORT_ENV}")
        return None


def serve_metrics(
    registry: CollectorRegistry, host: str, cli_value: int | None = None
) -> ProbeServer | None:
    """Start serving ``registry`` on ``host`` in a daemon thread; None when off or not possible."""
    port = _configured_port(cli_value)
    if not port:
        return None
    from kasugai.health_server import ProbeServer, metrics_reply

    try:
        server = ProbeServer(
            host, port, {"/metrics": lambda: metrics_reply(registry)}, name="metrics"
        )
    except OSError as error:
        log.warning(
            "metrics endpoint off: cannot listen",
            port=port,
            host=host,
            error=str(error),
            fix=f"set {METRICS_PORT_ENV} (or --metrics-port) to a free port, or 0 for no metrics",
        )
        return None
    server.start()
    log.info("serving metrics", address=f"{host}:{port}", path="/metrics")
    return server
