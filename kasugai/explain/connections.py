"""Causes in the connections and the controller: next hops still loading, Warning Events, a
status older than its spec."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from kasugai.explain.model import (
    CONNECTION_LOADED,
    MAX_CONNECTION_CAUSES,
    Cause,
    as_list,
    as_map,
    clean,
)

_REWIRING = re.compile(r"^Rewiring: waiting for (\S+) to (start|be Ready|load its next hop)")


def event_of(event: Mapping[str, Any]) -> dict[str, str]:
    involved = as_map(event.get("involvedObject") or event.get("regarding"))
    return {
        "type": clean(event.get("type") or "Normal", 20),
        "reason": clean(event.get("reason"), 100),
        "object": f"{clean(involved.get('kind'), 40)}/{clean(involved.get('name'), 300)}",
        "message": clean(event.get("message") or event.get("note")),
        "count": clean(event.get("count") or 1, 12),
    }


def event_cause(event: dict[str, str]) -> Cause:
    kind, _, name = event["object"].partition("/")
    if event["reason"] == "ApplyFailed":
        action = (
            "the API server refused the controller's write: fix what the message names (RBAC, "
            "quota, admission); the controller retries"
        )
    else:
        action = f"kubectl describe {kind.lower()} {name} shows the rest"
    return Cause(f"{kind} {name}", event["reason"], event["message"], action)


def warnings_about(events: Sequence[dict[str, str]], kind: str, name: str) -> list[dict[str, str]]:
    wanted = f"{kind}/{name}"
    return [e for e in events if e["type"] == "Warning" and e["object"] == wanted]


GENERIC_REASONS = frozenset({"Pending", "NotReady"})


def connection_causes(
    status: Mapping[str, Any], pods_by_function: Mapping[str, str], source: str
) -> list[Cause]:
    causes = []
    # A chain is rewired from its end towards its start: the last connection waits for nothing
    # further down, so it is the root and comes first.
    for connection in reversed(as_list(status.get("connections"))):
        connection = as_map(connection)
        if connection.get("published") is True:
            continue
        state = clean(connection.get("state") or "Waiting", 40)
        subject = (
            f"connection {clean(connection.get('from'), 100)}->{clean(connection.get('to'), 100)}"
        )
        reason = clean(connection.get("reason") or "")
        rewiring = _REWIRING.match(reason)
        if rewiring:
            hop, what = rewiring.groups()
            pod = pods_by_function.get(hop, f"the Pod of {hop}")
            if what == "load its next hop":
                action = (
                    f"{hop}'s sidecar has not reported loading its config ({CONNECTION_LOADED} "
                    f"on Pod {pod}): check that its function runs and its sidecar's log"
                )
            else:
                when = "up" if what == "start" else "Ready"
                action = f"see Pod {pod} above: once it is {when}, the upstream is switched to it"
        elif state == "Stale":
            action = (
                "the next hop's address is gone (its Service or Pod lost it); the last address "
                "is kept until it is back: check the next hop's Service and Pod"
            )
        else:
            action = (
                "the controller publishes it once the next hop's address is known; if it lasts, "
                "check that the controller runs and its Events (ApplyFailed)"
            )
        causes.append(Cause(subject, state, reason or state, action))
    if len(causes) > MAX_CONNECTION_CAUSES:
        rest = len(causes) - MAX_CONNECTION_CAUSES
        more = Cause(
            "connections",
            "Waiting",
            f"and {rest} more connection(s) not published",
            "they follow from the causes above",
        )
        causes = [*causes[:MAX_CONNECTION_CAUSES], more]
    return causes


def controller_causes(
    meta: Mapping[str, Any], status: Mapping[str, Any], namespace: str, name: str
) -> list[Cause]:
    """The status itself is missing or older than the spec: nothing else in it is current."""
    about = f"DataFlow {namespace}/{name}"
    if not status.get("status"):
        return [
            Cause(
                about,
                "NoStatus",
                "no controller has written its status yet",
                "check that kasugai's controller runs and watches this namespace "
                "(kubectl -n kasugai-system get pods; its --namespace flags)",
            )
        ]
    generation, observed = meta.get("generation"), status.get("observedGeneration")
    if isinstance(generation, int) and isinstance(observed, int) and observed < generation:
        return [
            Cause(
                about,
                "NotObservedYet",
                f"the status is of generation {observed}; the spec is at {generation}",
                "wait a moment for the controller; if it lasts, check that it runs",
            )
        ]
    return []
