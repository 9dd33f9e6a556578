"""Status subresources the controller writes (docs/compatibility.md section 7).

Conditions are Kubernetes-style (``type``, ``status``, ``reason``, ``message``) but carry no
``lastTransitionTime``: the core has no clock. Adapters stamp it when they write a status,
keeping the previous time for a condition whose ``status`` did not change.

``status.status`` is the string users wait on: ``Deployed``, ``Error``, or the current lifecycle
state (``Pending``, ``Deploying``, ``Degraded``, ``Terminating``) with details in ``message``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from kasugai.core.lifecycle import DEPLOYED, ERROR, PENDING, PUBLISHED, REWIRING, STALE, WAITING
from kasugai.core.resolve import Problem

__all__ = [
    "ConnectionPlan",
    "FunctionPlan",
    "condition",
    "dataflow_status",
    "ready_status",
    "summarize",
]


@attrs.frozen
class FunctionPlan:
    """One function as the status reports it."""

    key: str
    pod: str
    service: str | None
    phase: str
    address: str


@attrs.frozen
class ConnectionPlan:
    """One function-to-function connection: its state and where it points."""

    source: str
    source_port: int
    target: str
    target_port: int
    state: str
    destination: str
    reason: str = ""
    protocol: str = ""  # what the source sends on it (its config entry's txProtocol)

    @property
    def subject(self) -> str:
        return f"{self.source}:{self.source_port}->{self.target}:{self.target_port}"


def condition(kind: str, ok: bool, reason: str, message: str) -> dict[str, str]:
    return {"type": kind, "status": "True" if ok else "False", "reason": reason, "message": message}


def summarize(messages: Iterable[str], limit: int = 3) -> str:
    """The first few messages joined, and how many more there are."""
    found = list(dict.fromkeys(messages))
    text = "; ".join(found[:limit])
    return f"{text} (and {len(found) - limit} more)" if len(found) > limit else text


def _reason(problems: tuple[Problem, ...]) -> str:
    """The reason of the first problem that has one (Conflict, AccessDenied), else InvalidSpec."""
    return next((p.reason for p in problems if p.reason and not p.waiting), "InvalidSpec")


def ready_status(problems: tuple[Problem, ...], ok_message: str) -> dict[str, Any]:
    """FunctionChain / FunctionType status: ``Ready`` or ``Error`` with a message."""
    if not problems:
        return {
            "status": "Ready",
            "message": ok_message,
            "conditions": [condition("Ready", True, "Resolved", ok_message)],
        }
    message = summarize((p.message for p in problems), limit=5)
    reason = _reason(problems) if any(not p.waiting for p in problems) else "WaitingForInputs"
    return {
        "status": "Error",
        "message": message,
        "conditions": [condition("Ready", False, reason, message)],
    }


def dataflow_status(
    *,
    state: str,
    message: str,
    generation: int | None,
    problems: tuple[Problem, ...],
    functions: tuple[FunctionPlan, ...],
    connections: tuple[ConnectionPlan, ...],
    fallbacks: tuple[str, ...],
    rewiring: tuple[str, ...] = (),
) -> dict[str, Any]:
    status: dict[str, Any] = {"status": state, "message": message}
    if generation is not None:
        status["observedGeneration"] = generation
    conditions = [condition("Ready", state == DEPLOYED, state, message)]
    if problems:
        reason = _reason(problems) if state == ERROR else "WaitingForInputs"
        if state not in (ERROR, PENDING):
            reason = state
        conditions.append(condition("Resolved", False, reason, message))
    else:
        conditions.append(condition("Resolved", True, "Resolved", "every input is resolved"))
    if functions:
        absent = [f.pod for f in functions if f.phase == "Absent"]
        conditions.append(
            condition(
                "PodsCreated",
                not absent,
                "PodsMissing" if absent else "AllPodsExist",
                f"not observed yet: {summarize(absent)}" if absent else "every Pod exists",
            )
        )
        waiting = [c for c in connections if c.state != PUBLISHED]
        stale = any(c.state == STALE for c in waiting)
        rewiring_now = any(c.state == REWIRING for c in waiting)
        conditions.append(
            condition(
                "ConnectionsPublished",
                not waiting,
                (STALE if stale else REWIRING if rewiring_now else WAITING)
                if waiting
                else "AllPublished",
                summarize(f"{c.subject}: {c.reason}" for c in waiting)
                if waiting
                else "every connection is published",
            )
        )
    if functions:
        conditions.append(
            condition(
                "Rewired",
                not rewiring,
                "Rewiring" if rewiring else "Rewired",
                summarize(rewiring) if rewiring else "every function runs with its next hop",
            )
        )
    conditions.extend(condition("ConfigFallback", True, "SingleEntry", note) for note in fallbacks)
    status["conditions"] = conditions
    status["functions"] = [
        {
            "key": f.key,
            "pod": f.pod,
            "phase": f.phase,
            "service": f.service or "",
            "address": f.address,
        }
        for f in functions
    ]
    status["connections"] = [
        {
            "from": c.source,
            "to": c.target,
            "destination": c.destination,
            "published": c.state == PUBLISHED,
            "state": c.state,
            **({"reason": c.reason} if c.reason else {}),
            **({"protocol": c.protocol} if c.protocol else {}),
        }
        for c in connections
    ]
    return status
