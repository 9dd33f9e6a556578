"""``kasugai-wrapper``: runs the pipeline command of ``<config dir>/config.yaml`` and keeps it
running across reloads (SIGHUP or a changed file), deaths (restart with backoff) and bad configs
(the last good pipeline keeps running). SIGTERM stops the pipeline with SIGINT first, so that a
receiver's MP4 is finalised, then exits.

``--install-template NAME`` first copies a packaged template into the config directory for the
sidecar to render, so a Pod needs no ``cp`` step.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Sequence

import structlog

from kasugai.backoff import Backoff
from kasugai.runtime_env import config_dir, configure_logging
from kasugai_functions.video import templates
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
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
    supervisor = Supervisor(directory / CONFIG_FILE, args.stop_timeout, Backoff(reset_after=10.0))
    asyncio.run(supervisor.run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
