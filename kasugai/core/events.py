"""Events: the only input of the core, and the core's own lifecycle decisions.

Everything the controller or the local runtime watches enters the core as an ``Observed`` (the
object exists with this body) or a ``Forgotten`` (it is gone). The core answers with plans and
with ``Transitioned`` decisions (a DataFlow or a connection moved between lifecycle states). All
three are frozen attrs values so that a journal of them (JSON lines, see
``kasugai.adapters.journal``) can be replayed offline to reproduce every decision.

A body is a Kubernetes JSON object exactly as the API server (or the local runtime, which mimics
it) returns it. The core never mutates a body; callers must not either once the event exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import cattrs
from cattrs.strategies import configure_tagged_union

__all__ = [
    "Event",
    "Forgotten",
    "ObjectKey",
    "Observed",
    "Transitioned",
    "event_from_json",
    "event_to_json",
]


@attrs.frozen(order=False)
class ObjectKey:
    """Which object: kind (``Pod``, ``DataFlow``...), namespace ("" if cluster-scoped), name.

    Ordered by (kind, namespace, name). The comparisons are written out as plain tuple
    comparisons: keys are sorted on every plan, and attrs' generic ``order=True`` methods
    (a generator per comparison) were a tenth of planning 1,000 DataFlows.
    """

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, ObjectKey):
            return NotImplemented
        return (self.kind, self.namespace, self.name) < (other.kind, other.namespace, other.name)

    def __le__(self, other: object) -> bool:
        if not isinstance(other, ObjectKey):
            return NotImplemented
        return (self.kind, self.namespace, self.name) <= (other.kind, other.namespace, other.name)

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, ObjectKey):
            return NotImplemented
        return (self.kind, self.namespace, self.name) > (other.kind, other.namespace, other.name)

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, ObjectKey):
            return NotImplemented
        return (self.kind, self.namespace, self.name) >= (other.kind, other.namespace, other.name)


@attrs.frozen
class Observed:
    """The object exists and looks like ``body`` (a full Kubernetes object, server fields too)."""

    kind: str
    namespace: str
    name: str
    body: Mapping[str, Any] = attrs.field(hash=False)

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(self.kind, self.namespace, self.name)

    @classmethod
    def of(cls, body: Mapping[str, Any], default_namespace: str = "default") -> Observed:
        """The event for a body, taking kind, namespace and name from the body itself."""
        meta = body.get("metadata")
        meta = meta if isinstance(meta, Mapping) else {}
        namespace = meta.get("namespace") or default_namespace
        return cls(str(body.get("kind", "")), str(namespace), str(meta.get("name", "")), body)


@attrs.frozen
class Forgotten:
    """The object is gone (deleted, or no longer watched)."""

    kind: str
    namespace: str
    name: str

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(self.kind, self.namespace, self.name)


@attrs.frozen
class Transitioned:
    """A lifecycle decision of the core.

    ``machine`` is ``DataFlow`` or ``Connection``; ``subject`` names the connection
    (``send->plus``) and is empty for the DataFlow machine. ``from_state`` is None the first time
    the core sees the subject. ``reason`` is the trigger name of the lifecycle machine.
    """

    object: ObjectKey
    machine: str
    subject: str
    from_state: str | None
    to_state: str
    reason: str
    message: str


Event = Observed | Forgotten | Transitioned

_converter = cattrs.Converter()
configure_tagged_union(Event, _converter, tag_name="event")


def event_to_json(event: Event) -> dict[str, Any]:
    """A JSON-ready dict with an ``event`` tag (``Observed``, ``Forgotten``, ``Transitioned``)."""
    data: dict[str, Any] = _converter.unstructure(event, Event)
    return data


def event_from_json(data: Mapping[str, Any]) -> Event:
    """The event a journal line holds; raises cattrs errors naming the bad field."""
    event: Event = _converter.structure(data, Event)  # type: ignore[arg-type]
    return event
