"""Status subresources as the controller writes them: the core's status, stamped with times.

The core's conditions carry no ``lastTransitionTime`` (it has no clock). Here each condition
gets the time it last changed ``status``: the time already on the object when the condition's
status is unchanged (a new message or reason is not a transition), else now. Stamping the
current status again gives exactly the observed one, so a status that did not change is never
written.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from kasugai.core.events import ObjectKey
from kasugai.core.names import API_VERSION

__all__ = ["failure_condition", "now", "stamped", "status_body"]


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamped(desired: Mapping[str, Any], observed: Mapping[str, Any], at: str) -> dict[str, Any]:
    """``desired`` with a ``lastTransitionTime`` on every condition."""
    previous = {
        c.get("type"): c for c in observed.get("conditions") or [] if isinstance(c, Mapping)
    }
    conditions = []
    for condition in desired.get("conditions") or []:
        old = previous.get(condition["type"])
        same = old is not None and old.get("status") == condition["status"]
        since = old.get("lastTransitionTime") if same and old is not None else None
        conditions.append({**condition, "lastTransitionTime": since or at})
    result = dict(desired)
    if conditions:
        result["conditions"] = conditions
    return result


def failure_condition(message: str) -> dict[str, str]:
    """The adapter's own condition: a write the API server refused (the core cannot know)."""
    return {"type": "Applied", "status": "False", "reason": "ApplyFailed", "message": message}


def status_body(key: ObjectKey, status: Mapping[str, Any]) -> dict[str, Any]:
    """What Server-Side Apply sends to the status subresource."""
    return {
        "apiVersion": API_VERSION,
        "kind": key.kind,
        "metadata": {"name": key.name, "namespace": key.namespace},
        "status": dict(status),
    }
