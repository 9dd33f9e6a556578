"""Settings every kasugai program shares: the config directory and the log format.

Functions, the sidecar and the controller all honour ``KASUGAI_CONFIG_DIR`` and log through
structlog: key=value on a terminal, one JSON object per line otherwise (in a cluster).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import structlog

CONFIG_DIR_ENV = "KASUGAI_CONFIG_DIR"
DEFAULT_CONFIG_DIR = "/config"
LOG_FORMAT_ENV = "KASUGAI_LOG_FORMAT"  # "console" or "json"; the default: see configure_logging


def config_dir(cli_value: str | None = None) -> Path:
    """The config directory: ``--config-dir`` wins, then ``KASUGAI_CONFIG_DIR``, then /config."""
    return Path(cli_value or os.environ.get(CONFIG_DIR_ENV) or DEFAULT_CONFIG_DIR)


def configure_logging(
    level: int = logging.INFO, stream: object = None, *, human: bool = False
) -> None:
    """Configure structlog once per process. ``KASUGAI_LOG_FORMAT`` decides; without it, the
    commands a person runs (``human``) log lines for people, and services (the controller, the
    functions, the sidecar) log JSON unless writing to a terminal."""
    out = stream or sys.stderr
    fmt = os.environ.get(LOG_FORMAT_ENV)
    if fmt is None and human:
        fmt = "console"
    as_json = fmt == "json" or (fmt is None and not getattr(out, "isatty", lambda: False)())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=out),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


POD_IP_ENV = "KASUGAI_POD_IP"


def listen_host() -> str:
    """The address a function listens on.

    In a cluster this is unset and programs listen on every interface. The local runtime gives each
    Pod its own loopback address (127.0.x.y) in ``KASUGAI_POD_IP``, so that every function can keep
    its usual port on one machine.
    """
    return os.environ.get(POD_IP_ENV) or "0.0.0.0"
