"""Which observed objects are this DataFlow's, as Helm and controller-runtime define ownership.

An object is owned when it carries kasugai's managed-by label **and** a controller
ownerReference to this DataFlow: kind ``DataFlow``, its name and, once the DataFlow has one, its
uid. A label alone proves nothing (anyone who may create a ConfigMap may set it), and a name
alone proves less: a foreign object that happens to have a name the plan wants is a conflict,
reported on the DataFlow and never patched, taken over or deleted.

A DataFlow read from files has no uid; its ownerReferences then match by kind and name only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kasugai.core import names
from kasugai.core.convert import JSON_OBJECT
from kasugai.core.diff import object_key
from kasugai.core.events import ObjectKey
from kasugai.core.inventory import Owner
from kasugai.core.model import DataFlowObject
from kasugai.core.resolve import Problem
from kasugai.core.world import World

__all__ = [
    "conflicts",
    "controller_reference",
    "describe_owner",
    "observed_objects",
    "owned_by",
    "owned_objects",
]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, JSON_OBJECT) else {}


def controller_reference(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ownerReference with ``controller: true``, if the object has one."""
    refs = _mapping(body.get("metadata")).get("ownerReferences")
    for ref in refs if isinstance(refs, list) else []:
        if isinstance(ref, JSON_OBJECT) and ref.get("controller") is True:
            return ref
    return None


def owned_by(body: Mapping[str, Any], owner: Owner) -> bool:
    """Whether kasugai made this object for ``owner`` (label and controller reference agree)."""
    labels = _mapping(_mapping(body.get("metadata")).get("labels"))
    if labels.get(names.MANAGED_BY_LABEL) != names.MANAGER:
        return False
    ref = controller_reference(body)
    if ref is None or ref.get("kind") != "DataFlow" or ref.get("name") != owner.name:
        return False
    return not owner.uid or ref.get("uid") == owner.uid


def describe_owner(body: Mapping[str, Any]) -> str:
    """Who an object belongs to, as far as it says: its controller, else its managed-by label."""
    ref = controller_reference(body)
    if ref is not None:
        found = f"its controller is {ref.get('kind', '?')} {ref.get('name', '?')}"
        return f"{found} (uid {ref['uid']})" if ref.get("uid") else found
    labels = _mapping(_mapping(body.get("metadata")).get("labels"))
    manager = labels.get(names.MANAGED_BY_LABEL)
    if isinstance(manager, str) and manager:
        return f"it is labelled {names.MANAGED_BY_LABEL}={manager} but no DataFlow controls it"
    return "it has no controller"


def conflicts(
    world: World, owner: Owner, desired: Iterable[Mapping[str, Any]]
) -> tuple[tuple[ObjectKey, ...], tuple[Problem, ...]]:
    """The desired objects whose name an object this DataFlow does not own already has."""
    keys: list[ObjectKey] = []
    problems: list[Problem] = []
    for obj in desired:
        key = object_key(obj)
        stored = world.get(key)
        if stored is None or owned_by(stored.body, owner):
            continue
        keys.append(key)
        problems.append(
            Problem(
                f"{key.kind} {key.namespace}/{key.name} already exists and is not this "
                f"DataFlow's ({describe_owner(stored.body)}); kasugai leaves it untouched: "
                "delete it, or rename the DataFlow or the function",
                reason="Conflict",
            )
        )
    return tuple(keys), tuple(problems)


def observed_objects(
    world: World, owner: Owner, key: ObjectKey, desired: Iterable[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """What a diff may compare with and delete: observed objects this DataFlow owns.

    The candidates are the DataFlow's inventory (objects labelled for it) and the objects named
    like a desired one; anything not owned is left out, so no diff ever patches or deletes it.
    """
    candidates = set(world.inventory_of(key)) | {object_key(obj) for obj in desired}
    found = []
    for candidate in sorted(candidates):
        stored = world.get(candidate)
        if stored is not None and owned_by(stored.body, owner):
            found.append(stored.body)
    return found


def owned_objects(
    world: World, key: ObjectKey, desired: Iterable[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """``observed_objects`` of the DataFlow ``key`` as the world knows it (none if it is gone)."""
    dataflow = world.value(key)
    if not isinstance(dataflow, DataFlowObject):
        return []
    return observed_objects(world, Owner(key.namespace, key.name, dataflow.uid), key, desired)
