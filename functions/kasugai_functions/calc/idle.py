"""``kasugai-calc -idle``: the container of a function that only sends (the chain's ``send``).

In the original the send Pod ran ``cp /config.yaml.tmpl /config/; tail -F /dev/null`` so that its
sidecar rendered ``config.yaml`` for the client that users ``exec``. This installs the packaged
template the same way the servers do, then waits for SIGTERM or SIGINT (exit 0). SIGHUP from the
sidecar is caught and logged: there is nothing to reload, the client reads config.yaml per run.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType

import structlog

from kasugai_functions.calc.config import ensure_template

log = structlog.get_logger(__name__)


def _stop(signum: int, _frame: FrameType | None) -> None:
    log.info("stopping", signal=signal.Signals(signum).name)
    sys.exit(0)


def _reloaded(_signum: int, _frame: FrameType | None) -> None:
    log.info("load config skipped: idle; the client reads config.yaml on every run")


def idle(directory: Path) -> int:
    """Install the template into ``directory``, then sleep until told to stop."""
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGHUP, _reloaded)
    if not ensure_template(directory):
        return 1
    log.info("idle", directory=str(directory))
    while True:
        signal.pause()
