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
from kasugai.core import bounded
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


def _lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """The journal's lines, read one at a time; a line over the limit is an ``InputError``."""
    limit = bounded.JOURNAL_LINE.max_bytes
    try:
        with Path(path).open("rb") as stream:
            for number, line in enumerate(iter(lambda: stream.readline(limit + 1), b""), 1):
                if len(line) > limit:
                    size = bounded.describe_size(limit)
                    raise InputError(f"{path}:{number}: a line longer than {size} (the limit)")
                yield number, line
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def read_journal(path: str | Path) -> Iterator[tuple[int, Event | Session]]:
    """(line number, entry) for every line; ``InputError`` names the line of a bad one."""
    for number, line in _lines(path):
        if not line.strip():
            continue
        try:
            yield number, _entry(bounded.load_json(line, bounded.JOURNAL_LINE))
        except bounded.ParseError as exc:
            raise InputError(f"{path}:{number}: {exc}") from exc
        except cattrs.BaseValidationError as exc:
            problems = "; ".join(cattrs.transform_error(exc, format_exception=_no_value))
            raise InputError(f"{path}:{number}: not a journal event: {problems}") from exc
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            what = type(exc).__name__
            raise InputError(f"{path}:{number}: not a journal event ({what})") from exc


def _no_value(exc: BaseException, type_: Any) -> str:
    """cattrs' description of a bad field, without the value it quotes."""
    if isinstance(exc, KeyError):
        return "required field missing"
    name = getattr(type_, "__name__", None) or str(type_)
    return f"expected {name} ({type(exc).__name__})"
