"""Connection config from a JSON file (the local runtime's stand-in for the ConfigMap).

The file holds exactly what ``data.config`` would hold. Writers replace it by an atomic rename,
which a watch on the file itself would lose (the watched inode goes away), so the watch is on
its directory, filtered to the file's name. The file may not exist yet: the sidecar waits for it.
A file too large or not UTF-8 is reported and skipped, like a config that does not validate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import structlog
import watchfiles

from kasugai.core import bounded
from kasugai_sidecar.observability import CONFIG_UPDATES, RENDER_ERRORS, WatchHealth
from kasugai_sidecar.watching import watch_directory

log = structlog.get_logger("kasugai_sidecar.file_source")


class UnreadableConfigFile(ValueError):
    """The config file is there but cannot be used as text (too large, not UTF-8)."""


def read_config_file(path: Path) -> str | None:
    """The file's text; None if it does not exist; ``UnreadableConfigFile`` (or ``OSError``)."""
    limit = bounded.VALUE.max_bytes
    try:
        with path.open("rb") as stream:
            data = stream.read(limit + 1)
    except FileNotFoundError:
        return None
    if len(data) > limit:
        raise UnreadableConfigFile(f"larger than {bounded.describe_size(limit)} (the limit)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableConfigFile(f"not UTF-8 (byte {error.start + 1})") from None


def _read_or_report(path: Path) -> tuple[bool, str | None]:
    """(True, text or None) when the file could be read; (False, None) after logging why not."""
    try:
        return True, read_config_file(path)
    except (OSError, UnreadableConfigFile) as error:
        CONFIG_UPDATES.labels("rejected").inc()
        RENDER_ERRORS.labels("config").inc()
        log.error(
            "config file rejected; keeping the last good files", path=str(path), error=str(error)
        )
        return False, None


async def watch_config_file(
    path: Path,
    deliver: Callable[[str | None], None],
    health: WatchHealth,
    stop: asyncio.Event,
) -> None:
    """Deliver the file's text now and on every change; ``None`` when it disappears."""
    path.parent.mkdir(parents=True, exist_ok=True)
    readable, text = _read_or_report(path)
    if readable and text is None:
        log.info("config file not there yet; waiting for it", path=str(path))
    elif text is not None:
        deliver(text)
    health.beat()

    def is_ours(_change: watchfiles.Change, changed: str) -> bool:
        return Path(changed).name == path.name

    async for changes in watch_directory(path.parent, is_ours, stop):
        health.beat()
        if changes:
            readable, text = _read_or_report(path)
            if readable:
                deliver(text)
