"""Connection config from a JSON file (the local runtime's stand-in for the ConfigMap).

The file holds exactly what ``data.config`` would hold. Writers replace it by an atomic rename,
which a watch on the file itself would lose (the watched inode goes away), so the watch is on
its directory, filtered to the file's name. The file may not exist yet: the sidecar waits for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import structlog
import watchfiles

from kasugai_sidecar.observability import WatchHealth
from kasugai_sidecar.watching import watch_directory

log = structlog.get_logger("kasugai_sidecar.file_source")


def read_config_file(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


async def watch_config_file(
    path: Path,
    deliver: Callable[[str | None], None],
    health: WatchHealth,
    stop: asyncio.Event,
) -> None:
    """Deliver the file's text now and on every change; ``None`` when it disappears."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = read_config_file(path)
    if text is None:
        log.info("config file not there yet; waiting for it", path=str(path))
    else:
        deliver(text)
    health.beat()

    def is_ours(_change: watchfiles.Change, changed: str) -> bool:
        return Path(changed).name == path.name

    async for changes in watch_directory(path.parent, is_ours, stop):
        health.beat()
        if changes:
            deliver(read_config_file(path))
