"""The journal: JSON lines of events and the decisions the core took after each one.

A writer records an event, applies it to the engine, then records the decisions that one event
produced (``JournalWriter.apply`` does all three, so the journal always reflects
one-event-at-a-time application): the ``Transitioned`` events of the lifecycle machines, then a
``{"journal": "planned", "object": ..., "digest": ...}`` line for each DataFlow plan and each
FunctionChain / FunctionType status that changed (``digest``: SHA-256 of its canonical JSON;
null when it is gone). Each writer starts a *session* with a line
``{"journal": "session", "options": {...}, "plans": true}`` holding the engine's
``PlanOptions``: a restarted controller appends a new session, and ``kasugai replay FILE`` starts
a fresh engine with those options at each one, then checks it takes the same decisions (plans
only where the session says they were recorded: older journals hold transitions only).

The journal rotates by size, so that a long-lived controller never fills its disk: past
``max_bytes`` the file becomes ``FILE.1`` (``FILE.1`` becomes ``FILE.2``..., ``keep`` of them
kept), and the new file starts with a session whose first lines are a *snapshot*: every object
of the engine's world, one ``{"snapshot": event}`` line each. Replay folds a snapshot without
checking decisions (they were taken in the file before), so each file replays on its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import attrs
import cattrs

from kasugai.adapters.files import InputError
from kasugai.core import bounded
from kasugai.core.engine import Changes, Engine
from kasugai.core.events import (
    Event,
    ObjectKey,
    Observed,
    Transitioned,
    event_from_json,
    event_to_json,
)
from kasugai.core.options import PlanOptions

__all__ = ["JournalWriter", "Planned", "Session", "Snapshot", "decisions", "read_journal"]

_converter = cattrs.Converter()


@attrs.frozen
class Session:
    """A journal line marking a fresh engine (a process start) and its options."""

    options: PlanOptions
    plans: bool = False  # whether this session records its plans (``Planned`` lines)


@attrs.frozen
class Planned:
    """A journal line: the plan of a DataFlow (or a chain's or type's status) changed to the one
    with this digest; ``digest`` None: it is gone."""

    object: ObjectKey
    digest: str | None


def digest(decision: Any) -> str:
    """SHA-256 of a plan's or status's canonical JSON: equal plans, equal digests."""
    data = json.dumps(_converter.unstructure(decision), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()


def decisions(changes: Changes) -> list[Transitioned | Planned]:
    """Every decision one ``apply`` took, in the order the journal records them."""
    planned = [Planned(key, digest(plan)) for key, plan in changes.plans.items()]
    planned += [Planned(key, None) for key in changes.removed]
    planned += [
        Planned(key, None if status is None else digest(status))
        for key, status in changes.statuses.items()
    ]
    return [*changes.transitions, *sorted(planned, key=lambda p: p.object)]


@attrs.frozen
class Snapshot:
    """A journal line holding one object of the world a rotated journal starts from."""

    event: Event


MAX_BYTES = 64 * 2**20
KEEP = 3


class JournalWriter:
    """Appends events to a JSON-lines file, flushed line by line (a crash loses nothing)."""

    def __init__(self, path: str | Path, max_bytes: int = MAX_BYTES, keep: int = KEEP) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.keep = keep
        # Held open for the writer's life; closed by close() or the context manager.
        self._file: IO[str] = self.path.open("a", encoding="utf-8")
        self._size = self._file.tell()
        self._session_started = False

    def _write(self, line: dict[str, Any]) -> None:
        # Keys keep their order: the order of a body's mappings (a chain's functions) decides the
        # order of a plan's problems, so a replay must see them as the engine did.
        text = json.dumps(line) + "\n"
        self._file.write(text)
        self._file.flush()
        self._size += len(text)

    def _rotate(self, engine: Engine) -> None:
        """Start a new file with a snapshot of the world; keep ``keep`` old ones."""
        self._file.close()
        for number in range(self.keep, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{number}")
            newer = (
                self.path.with_name(f"{self.path.name}.{number - 1}") if number > 1 else self.path
            )
            if number == self.keep:
                older.unlink(missing_ok=True)
            if newer.exists():
                newer.rename(older)
        self._file = self.path.open("a", encoding="utf-8")
        self._size = 0
        self._session(engine)
        for key, stored in engine.world:
            event = Observed(key.kind, key.namespace, key.name, stored.body)
            self._write({"snapshot": event_to_json(event)})

    def _session(self, engine: Engine) -> None:
        options = _converter.unstructure(engine.options)
        self._write({"journal": "session", "options": options, "plans": True})

    def record(self, entry: Event | Planned) -> None:
        if isinstance(entry, Planned):
            key = _converter.unstructure(entry.object)
            self._write({"journal": "planned", "object": key, "digest": entry.digest})
        else:
            self._write(event_to_json(entry))

    def apply(self, engine: Engine, event: Event) -> Changes:
        """Record ``event``, apply it, record the decisions it produced; return the changes."""
        if not self._session_started:
            self._session(engine)
            self._session_started = True
        elif self._size >= self.max_bytes:
            self._rotate(engine)
        self.record(event)
        changes = engine.apply(event)
        for decision in decisions(changes):
            self.record(decision)
        return changes

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


Entry = Event | Session | Snapshot | Planned


def _entry(data: Any) -> Entry:
    if isinstance(data, dict) and data.get("journal") == "session":
        options = _converter.structure(data.get("options", {}), PlanOptions)
        plans = data.get("plans", False)
        if not isinstance(plans, bool):
            raise TypeError("session.plans must be true or false")
        return Session(options, plans)
    if isinstance(data, dict) and data.get("journal") == "planned":
        return _converter.structure(data, Planned)
    if isinstance(data, dict) and "snapshot" in data:
        return Snapshot(event_from_json(data["snapshot"]))
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


def read_journal(path: str | Path) -> Iterator[tuple[int, Entry]]:
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
