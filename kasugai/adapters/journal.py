"""The journal: JSON lines of events and the decisions the core took after each one.

A writer records an event, applies it to the engine, then records the ``Transitioned`` decisions
that one event produced (``JournalWriter.apply`` does all three, so the journal always reflects
one-event-at-a-time application). Each writer starts a *session* with a line
``{"journal": "session", "options": {...}}`` holding the engine's ``PlanOptions``: a restarted
controller appends a new session, and ``kasugai replay FILE`` starts a fresh engine with those
options at each one, then checks it takes the same decisions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import attrs
import cattrs

from kasugai.adapters.files import InputError
from kasugai.core.engine import Changes, Engine
from kasugai.core.events import Event, event_from_json, event_to_json
from kasugai.core.options import PlanOptions

__all__ = ["JournalWriter", "Session", "read_journal"]

_converter = cattrs.Converter()


@attrs.frozen
class Session:
    """A journal line marking a fresh engine (a process start) and its options."""

    options: PlanOptions


class JournalWriter:
    """Appends events to a JSON-lines file, flushed line by line (a crash loses nothing)."""

    def __init__(self, path: str | Path) -> None:
        # Held open for the writer's life; closed by close() or the context manager.
        self._file: IO[str] = Path(path).open("a", encoding="utf-8")  # noqa: SIM115
        self._session_started = False

    def _write(self, line: dict[str, Any]) -> None:
        self._file.write(json.dumps(line, sort_keys=True) + "\n")
        self._file.flush()

    def record(self, event: Event) -> None:
        self._write(event_to_json(event))

    def apply(self, engine: Engine, event: Event) -> Changes:
        """Record ``event``, apply it, record the decisions it produced; return the changes."""
        if not self._session_started:
            self._write({"journal": "session", "options": _converter.unstructure(engine.options)})
            self._session_started = True
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


def _entry(data: Any) -> Event | Session:
    if isinstance(data, dict) and data.get("journal") == "session":
        return Session(_converter.structure(data.get("options", {}), PlanOptions))
    return event_from_json(data)


def read_journal(path: str | Path) -> Iterator[tuple[int, Event | Session]]:
    """(line number, entry) for every line; ``InputError`` names the line of a bad one."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, _entry(json.loads(line))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{number}: invalid JSON: {exc.msg}") from exc
        except (cattrs.BaseValidationError, KeyError, ValueError, TypeError) as exc:
            problems = (
                "; ".join(cattrs.transform_error(exc))
                if isinstance(exc, cattrs.BaseValidationError)
                else str(exc)
            )
            raise InputError(f"{path}:{number}: not a journal event: {problems}") from exc
