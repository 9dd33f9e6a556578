"""The input directory of ``kasugai up``: its objects, and the events an edit of it produces.

Objects are kept per file, so a change re-reads only the files that changed (parsing YAML is the
slowest step between an edit and a rewired chain). A file that cannot be read keeps the objects
it had before, and the error names the file and the field: a half-saved edit never tears a
running DataFlow down. The watch uses watchfiles with a short step, because its defaults (50 ms
quiet time, 1.6 s maximum) would spend most of the reconfiguration budget waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

import watchfiles

from kasugai.adapters.files import SUFFIXES, InputError, Loaded, load_objects
from kasugai.core.events import Event, Forgotten, ObjectKey, Observed

__all__ = ["InputDirectory"]

WATCH_STEP_MS = 2
WATCH_DEBOUNCE_MS = 30
ARM_TIMEOUT_MS = 500  # also how often a quiet watch wakes up (once armed, it only catches up)


def _is_input(path: str) -> bool:
    name = Path(path).name
    return Path(path).suffix in SUFFIXES and not name.startswith((".", "#"))


class InputDirectory:
    """The objects of every input file under ``root``, by file."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._by_file: dict[Path, list[Loaded]] = {}
        self._loaded_versions: dict[Path, int] = {}

    def _files(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*") if p.is_file() and _is_input(str(p)))

    def _versions(self) -> dict[Path, int]:
        versions = {}
        for path in self._files():
            try:
                versions[path] = path.stat().st_mtime_ns
            except FileNotFoundError:  # deleted meanwhile: the watch reports it
                continue
        return versions

    def load(self) -> list[Loaded]:
        """Read every file (``InputError`` if any cannot be read): the first load."""
        if not self.root.is_dir():
            raise InputError(f"{self.root}: not a directory of resources")
        self._loaded_versions = self._versions()
        files = list(self._loaded_versions)
        self._by_file = {path: load_objects([path]) for path in files}
        loaded = [item for path in files for item in self._by_file[path]]
        if not loaded:
            raise InputError(f"{self.root}: no *.yaml, *.yml or *.json resources in it")
        return loaded

    def objects(self) -> dict[ObjectKey, Mapping[str, Any]]:
        """Every object by key; where two files hold one object, the later file wins."""
        merged: dict[ObjectKey, Mapping[str, Any]] = {}
        for path in sorted(self._by_file):
            for item in self._by_file[path]:
                merged[item.key] = item.body
        return merged

    def sources(self) -> dict[ObjectKey, str]:
        return {item.key: item.source for items in self._by_file.values() for item in items}

    def reload(self, paths: Iterable[Path]) -> tuple[list[Event], list[str]]:
        """Re-read the changed files: events for what changed, and errors for unreadable files."""
        before = self.objects()
        errors = []
        for path in paths:
            if not path.exists():
                self._by_file.pop(path, None)
                continue
            try:
                self._by_file[path] = load_objects([path])
            except InputError as error:
                errors.append(str(error))
        after = self.objects()
        events: list[Event] = [
            Observed.of(body) for key, body in after.items() if before.get(key) != body
        ]
        events += [Forgotten(k.kind, k.namespace, k.name) for k in before.keys() - after.keys()]
        return events, errors

    def changed_since_load(self) -> set[Path]:
        """Files created, changed or deleted since ``load`` (before the watch was armed)."""
        now = self._versions()
        before = self._loaded_versions
        return {p for p in now.keys() | before.keys() if now.get(p) != before.get(p)}

    async def changes(self, stop: asyncio.Event) -> AsyncIterator[list[Path]]:
        """Batches of changed input files, until ``stop`` is set.

        The first batch also holds what changed between ``load`` and the watch being armed
        (watchfiles yields for the first time, on a change or a quiet timeout, once it watches).
        """
        armed = False
        async for batch in watchfiles.awatch(
            self.root,
            watch_filter=lambda _change, path: _is_input(path),
            debounce=WATCH_DEBOUNCE_MS,
            step=WATCH_STEP_MS,
            rust_timeout=ARM_TIMEOUT_MS,
            yield_on_timeout=True,
            stop_event=stop,
        ):
            paths = {Path(path) for _, path in batch}
            if not armed:
                armed = True
                paths |= self.changed_since_load()
            if paths:
                yield sorted(paths)
