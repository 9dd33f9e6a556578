"""Make before break: a running chain is rewired only towards hops that are ready.

The planner wires the functions from the end of the chain towards its start. A function's
published next-hop config is replaced only once every one of its new next hops is *settled*: its
Pod is Ready, its own config is final (not held back itself) and its function has loaded that
config. Until then the last published content stays and the connection is ``Rewiring``. So a hop
new to a chain is published to its upstream only after it has loaded its own next hop, and a
chain is switched from its end towards its start. That never makes a loop: a settled hop points
only at settled hops, along the new chain (which is acyclic); the others point along the old one.

A function's first config (nothing published yet, as on first deployment) is published at once:
there is nothing to keep, and holding it back would only slow the start.

A function that leaves the chain keeps its objects (as observed, unchanged) until every remaining
function has loaded its final config: then nobody sends to it any more, and deleting its Pod
(SIGTERM, grace period) lets its in-flight requests finish.

"Loaded" is the Pod's ``kasugai.io/ConnectionLoaded`` condition (``loaded_condition``) when the
Pod reports it: the sidecar reports the config its function was signalled for, locally through
the runtime (``--loaded-file``), in a cluster by patching its own Pod's status. A Pod that does not
report it (no sidecar, or one that has not reported yet) counts as having loaded what its
published ConfigMap holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from kasugai.core import names
from kasugai.core.convert import JSON_OBJECT
from kasugai.core.diff import object_key
from kasugai.core.events import ObjectKey
from kasugai.core.model import PodFacts
from kasugai.core.status import condition
from kasugai.core.world import World

__all__ = [
    "Hop",
    "config_digest",
    "has_loaded",
    "hop_of",
    "leaving",
    "loaded_condition",
    "waiting_reason",
]


def config_digest(text: str) -> str:
    """How a Pod names the connection config it loaded (``data.config``, exactly)."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def loaded_condition(config: str | None) -> dict[str, str]:
    """The Pod condition saying which connection config its function has loaded (``config``,
    exactly as ``data.config`` holds it; None: nothing yet), as the parser of Pods reads it."""
    digest = "" if config is None else config_digest(config)
    reason = "SidecarReported" if digest else "NotReported"
    return condition(names.CONNECTION_LOADED_CONDITION, bool(digest), reason, digest)


@attrs.frozen
class Hop:
    """What the world says about one function's Pod (see ``PodFacts``)."""

    exists: bool
    ready: bool
    loaded: str | None


def hop_of(world: World, namespace: str, pod: str) -> Hop:
    facts = world.value(ObjectKey("Pod", namespace, pod))
    if not isinstance(facts, PodFacts):
        return Hop(exists=False, ready=False, loaded="")
    return Hop(exists=True, ready=facts.ready, loaded=facts.loaded)


def has_loaded(hop: Hop, config: str, published: str | None) -> bool:
    """Whether the function runs with ``config``: as its Pod reports, else as published."""
    if hop.loaded is None:
        return published == config
    return hop.loaded == config_digest(config)


def waiting_reason(world: World, namespace: str, function_key: str, pod: str) -> str:
    """Why the upstream of ``function_key`` is not switched to it yet."""
    hop = hop_of(world, namespace, pod)
    if not hop.exists:
        why = f"waiting for {function_key} to start"
    elif not hop.ready:
        why = f"waiting for {function_key} to be Ready"
    else:
        why = f"waiting for {function_key} to load its next hop"
    return f"Rewiring: {why}; keeping the last published address"


def leaving(
    world: World,
    dataflow: ObjectKey,
    owned: Iterable[ObjectKey],
    desired: Iterable[Mapping[str, Any]],
) -> list[ObjectKey]:
    """The objects of the functions that left the chain and whose Pod is still there: the
    DataFlow's own observed objects, no longer desired, of a function key with such a Pod."""
    wanted = {object_key(obj) for obj in desired}
    gone = {k: _function_key(world, k) for k in owned if k not in wanted and world.get(k)}
    running = {function for k, function in gone.items() if k.kind == "Pod" and function}
    return sorted(k for k, function in gone.items() if function in running)


def _function_key(world: World, key: ObjectKey) -> str:
    stored = world.get(key)
    labels = (stored.body.get("metadata") or {}).get("labels") if stored else None
    value = labels.get(names.FUNCTION_KEY_LABEL) if isinstance(labels, JSON_OBJECT) else None
    return value if isinstance(value, str) else ""
