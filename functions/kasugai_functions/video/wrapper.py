"""``kasugai-wrapper``: runs the pipeline command of ``<config dir>/config.yaml`` and keeps it
running across reloads (SIGHUP or a changed file), deaths (restart with backoff) and bad configs
(the last good pipeline keeps running). SIGTERM stops the pipeline with SIGINT first, so that a
receiver's MP4 is finalised, then exits.

``--install-template NAME`` first copies a packaged template into the config directory for the
sidecar to render, so a Pod needs no ``cp`` step.

It serves the Pod's /metrics (``--metrics-port``, else ``KASUGAI_METRICS_PORT``, else 9464): its
pipeline starts, and the metrics of a pipeline that has its own (see ``pipeline_metrics``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from collections.abc import Sequence

import structlog

from kasugai.backoff import Backoff
from kasugai.runtime_env import config_dir, configure_logging, listen_host
from kasugai_functions.metrics_endpoint import METRICS_PORT_ENV, serve_metrics
from kasugai_functions.video import templates
from kasugai_functions.video.pipeline_metrics import PipelineMetrics, private_port
from kasugai_functions.video.process_group import become_subreaper
from kasugai_functions.video.supervisor import Supervisor

CONFIG_FILE = "config.yaml"

log = structlog.get_logger("kasugai.wrapper")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kasugai-wrapper",
        description="Run the pipeline in <config dir>/config.yaml; restart it when that changes.",
    )
    parser.add_argument(
        "--config-dir",
        help="directory of config.yaml (default: $KASUGAI_CONFIG_DIR, else /config)",
    )
    parser.add_argument(
        "--install-template",
        choices=templates.NAMES,
        metavar="NAME",
        help=f"copy a packaged template ({'|'.join(templates.NAMES)}) to "
        f"<config dir>/{templates.TEMPLATE_FILE} unless one is there",
    )
    parser.add_argument(
        "--stop-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long a pipeline may take to finish after SIGINT before SIGTERM (default 10)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help=f"port of /metrics, 0 for none (default ${METRICS_PORT_ENV}, else 9464)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.metrics_port is not None and not 0 <= args.metrics_port <= 65535:
        parser.error("--metrics-port: expected a port from 1 to 65535, or 0 to turn /metrics off")
    # The sidecar may signal as soon as the template below exists; SIGHUP's default action would
    # end this process. The supervisor reads the config at start anyway, so this one can go.
    signal.signal(signal.SIGHUP, lambda _signum, _frame: None)
    configure_logging()
    directory = config_dir(args.config_dir)
    if args.install_template:
        copied = templates.install_template(args.install_template, directory)
        log.info(
            "template installed" if copied else "template already present; kept it",
            template=args.install_template,
            path=str(directory / templates.TEMPLATE_FILE),
        )
    directory.mkdir(parents=True, exist_ok=True)
    become_subreaper()
    host = listen_host()
    local = "127.0.0.1" if host == "0.0.0.0" else host  # where this process reaches its pipeline
    pipeline_port = private_port(local)
    metrics = PipelineMetrics(f"http://{local}:{pipeline_port}/metrics")
    server = serve_metrics(metrics.registry, host, args.metrics_port)
    # Read by the pipelines started from now on (ours is read already); off with ours.
    os.environ[METRICS_PORT_ENV] = str(pipeline_port) if server is not None else "0"
    supervisor = Supervisor(
        directory / CONFIG_FILE,
        args.stop_timeout,
        Backoff(reset_after=10.0),
        on_start=metrics.starts.inc,
    )
    try:
        asyncio.run(supervisor.run())
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
