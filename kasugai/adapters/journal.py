"""The journal: JSON lines of events and the decisions the core took after each one.

A writer records an event, applies it to the engine, then records the ``Transitioned`` decisions
that one event produced (``JournalWriter.apply`` does all three, so the journal always reflects
one-event-at-a-time application). ``kasugai replay FILE`` re-runs a fresh engine over the events
and checks it takes the same decisions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import cattrs

from kasugai.adapters.files import InputError
from kasugai.core.engine import Changes, Engine
from kasugai.core.events import Event, event_from_json, event_to_json

__all__ = ["JournalWriter", "read_journal"]


class JournalWriter:
    """Appends events to a JSON-lines file, flushed line by line (a crash loses nothing)."""

    def __init__(self, path: str | Path) -> None:
        # Held open for the writer's life; closed by close() or the context manager.
        self._file: IO[str] = Path(path).open("a", encoding="utf-8")  # noqa: SIM115

    def record(self, event: Event) -> None:
        self._file.write(json.dumps(event_to_json(event), sort_keys=True) + "\n")
        self._file.flush()

    def apply(self, engine: Engine, event: Event) -> Changes:
        """Record ``event``, apply it, record the decisions it produced; return the changes."""
        self.record(event)
        changes = engine.apply(event)
        for decision in changes.transitions:
            self.record(decision)
        return changes

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def read_journal(path: str | Path) -> Iterator[tuple[int, Event]]:
    """(line number, event) for every line; ``InputError`` names the line of a bad one."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, event_from_json(json.loads(line))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{number}: invalid JSON: {exc.msg}") from exc
        except (cattrs.BaseValidationError, KeyError, ValueError, TypeError) as exc:
            problems = (
                "; ".join(cattrs.transform_error(exc))
                if isinstance(exc, cattrs.BaseValidationError)
                else str(exc)
            )
            raise InputError(f"{path}:{number}: not a journal event: {problems}") from exc
