"""What ``kasugai explain`` says (causes, the explanation), the limits on what it reads, and
how it reads hostile objects: type-checked, shortened, without control characters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

MESSAGE_LIMIT = 600  # characters of any text quoted from an object
MAX_PODS = 200  # Pods, Events and transitions looked at: bounds the work on hostile input
MAX_EVENTS = 200
MAX_CONNECTION_CAUSES = 5  # connection causes shown; the rest are counted
CONNECTION_LOADED = "kasugai.io/ConnectionLoaded"
RENDER_FAILED = "RenderFailed"
SIDECAR = "sidecar"  # the sidecar container's name in the samples' Pod templates

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: Any, limit: int = MESSAGE_LIMIT) -> str:
    """Text from an object, safe to print: no control characters, at most ``limit`` long."""
    value = _CONTROL.sub(" ", str(text if text is not None else ""))
    return value if len(value) <= limit else value[: limit - 3] + "..."


@attrs.frozen
class Cause:
    """One link of the chain: what it is about, what happened, what to do."""

    about: str  # "FunctionType calcapp-send in namespace ns", "Pod ns/name", "connection a->b"
    reason: str  # MissingInput, InvalidConfig, Conflict, Unschedulable, CrashLoopBackOff, ...
    message: str
    action: str


@attrs.frozen
class Explanation:
    namespace: str
    name: str
    status: str
    message: str
    healthy: bool
    causes: tuple[Cause, ...]
    events: tuple[dict[str, str], ...] = ()
    transitions: tuple[dict[str, str], ...] = ()
    summary: str = ""

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


def as_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any, limit: int = MAX_PODS) -> list[Any]:
    return list(value[:limit]) if isinstance(value, list) else []


def conditions_of(status: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {
        str(c.get("type")): c for c in as_list(status.get("conditions")) if isinstance(c, Mapping)
    }
