"""``diff(desired, actual)``: the writes that bring the actual objects to the desired ones.

Only the fields kasugai sets are compared, so everything the API server fills in (uid,
resourceVersion, generation, creationTimestamp, managedFields, status, clusterIP(s), ipFamilies,
nodePorts, Pod defaults such as dnsPolicy or terminationMessagePath, fieldRef apiVersion...) is
ignored without being listed. Lists of named things (containers, env, volumes, ports...) are
matched by their merge key, so order and the items the server injects (the service-account
token volume and its mounts) do not count; any other extra item does. A number we set equals the
string the server returns for it (``"1"`` for a resource quantity of 1).

A field kasugai applied last time and no longer sets (``kasugai.core.fieldsets``: a label, an
annotation, an env entry, a port...) is a change too: ``Action.removed`` names it, and the write
removes it, as Server-Side Apply would; fields other managers set are left alone. A cluster
object kasugai created but never applied is patched once, so that its fields are on record.

A Pod whose desired ``spec`` differs, or loses a field of it, is replaced (Pod specs are mostly
immutable); other changes are patches. Deletes are limited to our inventory
(``app.kubernetes.io/managed-by: kasugai``) no longer desired. Nothing to do is ``[]``: no
write at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from kasugai.core import fieldsets, names
from kasugai.core.events import ObjectKey
from kasugai.core.fieldsets import Removal
from kasugai.core.inventory import copy_json

__all__ = [
    "MERGE_KEYS",
    "Action",
    "covers",
    "diff",
    "merge_key",
    "object_key",
    "project",
    "server_added",
    "shown_before",
]

MERGE_KEYS = ("name", "mountPath", "containerPort", "port", "key", "ip")
# List items the API server adds to Pods on its own (ServiceAccount admission).
_SERVER_ITEMS = (
    ("name", "kube-api-access-"),
    ("mountPath", "/var/run/secrets/kubernetes.io/serviceaccount"),
)


@attrs.frozen
class Action:
    """One write: ``verb`` is ``create``, ``patch``, ``replace`` (delete + create) or ``delete``;
    ``removed``: the fields kasugai set last time that ``desired`` no longer sets."""

    verb: str
    key: ObjectKey
    desired: Mapping[str, Any] | None = attrs.field(hash=False)
    actual: Mapping[str, Any] | None = attrs.field(hash=False)
    removed: tuple[Removal, ...] = attrs.field(default=(), hash=False)


def object_key(obj: Mapping[str, Any]) -> ObjectKey:
    meta = obj.get("metadata") or {}
    return ObjectKey(str(obj.get("kind", "")), str(meta.get("namespace") or ""), str(meta["name"]))


def _is_inventory(obj: Mapping[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return bool(labels.get(names.MANAGED_BY_LABEL) == names.MANAGER)


def diff(desired: Iterable[Mapping[str, Any]], actual: Iterable[Mapping[str, Any]]) -> list[Action]:
    """Creates, patches and replaces in the order desired, then deletes sorted by key."""
    current = {object_key(obj): obj for obj in actual}
    actions = []
    wanted = set()
    for obj in desired:
        key = object_key(obj)
        wanted.add(key)
        have = current.get(key)
        if have is None:
            actions.append(Action("create", key, obj, None))
            continue
        removed = tuple(fieldsets.removals(obj, have, fieldsets.applied_fields(have)))
        if removed or not covers(obj, have) or fieldsets.unclaimed(have):
            spec_changed = key.kind == "Pod" and (
                not covers(obj.get("spec", {}), have.get("spec"))
                or any(r.fields[0] == "f:spec" for r in removed)
            )
            verb = "replace" if spec_changed else "patch"
            actions.append(Action(verb, key, obj, have, removed))
    for key in sorted(current.keys() - wanted):
        if _is_inventory(current[key]):
            actions.append(Action("delete", key, None, current[key]))
    return actions


def merge_key(items: list[Any]) -> str | None:
    """The field that names every item of a list of objects, if there is one."""
    if not items or not all(isinstance(item, Mapping) for item in items):
        return None
    for field in MERGE_KEYS:
        values = [item.get(field) for item in items]
        if None not in values and len(set(map(str, values))) == len(values):
            return field
    return None


def server_added(field: str, item: Any) -> bool:
    if not isinstance(item, Mapping):
        return False
    return any(
        field == name and str(item.get(field, "")).startswith(prefix)
        for name, prefix in _SERVER_ITEMS
    )


def covers(want: Any, have: Any) -> bool:
    """Whether ``have`` holds every field of ``want`` with the same value."""
    if isinstance(want, Mapping):
        if have is None:
            return not want
        return isinstance(have, Mapping) and all(covers(v, have.get(k)) for k, v in want.items())
    if isinstance(want, list):
        if have is None:
            return not want
        if not isinstance(have, list):
            return False
        field = merge_key(want)
        if field is None:
            return len(want) == len(have) and all(map(covers, want, have))
        found = {str(item.get(field)): item for item in have if isinstance(item, Mapping)}
        extra = [
            k
            for k, item in found.items()
            if k not in {str(w[field]) for w in want} and not server_added(field, item)
        ]
        return not extra and all(covers(w, found.get(str(w[field]))) for w in want)
    if want is False and have is None:
        return True  # the API server leaves out a false bool of a Pod spec (hostNetwork: false)
    if isinstance(want, bool) or isinstance(have, bool):
        return want is have
    if isinstance(want, int | float) and isinstance(have, str):
        return str(want) == have
    return bool(want == have)


def project(have: Any, want: Any) -> Any:
    """``have`` restricted to the fields ``want`` sets (what a diff should show of it)."""
    if isinstance(want, Mapping) and isinstance(have, Mapping):
        return {k: project(have[k], v) for k, v in want.items() if k in have}
    if isinstance(want, list) and isinstance(have, list):
        field = merge_key(want)
        if field is None:
            return [project(h, w) for h, w in zip(have, want, strict=False)] + have[len(want) :]
        by_key = {str(w[field]): w for w in want}
        return [
            project(h, by_key[str(h.get(field))]) if str(h.get(field)) in by_key else h
            for h in have
            if isinstance(h, Mapping) and not server_added(field, h)
        ]
    return have


def shown_before(
    actual: Mapping[str, Any], desired: Mapping[str, Any], removed: Iterable[Removal] = ()
) -> Any:
    """What a diff shows of ``actual``: the fields ``desired`` sets, and those to be removed."""
    before = project(actual, desired)
    for removal in removed:
        _show(before, actual, removal.at)
    return before


def _show(before: Any, actual: Any, at: tuple[fieldsets.Segment, ...]) -> None:
    """Copy ``actual``'s value at ``at`` into ``before``, the projection of ``actual``."""
    src, dst = actual, before
    for depth, segment in enumerate(at):
        last = depth == len(at) - 1
        if isinstance(segment, int):
            if not (isinstance(src, list) and isinstance(dst, list) and segment < len(src)):
                return
            item = src[segment]
            found = next((d for d in dst if _same_item(d, item)), None)
            if found is None:
                dst.append(copy_json(item))
                return
            src, dst = item, found
        else:
            if not (isinstance(src, Mapping) and isinstance(dst, dict) and segment in src):
                return
            if last or segment not in dst:
                dst[segment] = copy_json(src[segment])
                return
            src, dst = src[segment], dst[segment]


def _same_item(shown: Any, item: Any) -> bool:
    if isinstance(shown, Mapping) and isinstance(item, Mapping):
        return any(
            field in shown and field in item and str(shown[field]) == str(item[field])
            for field in MERGE_KEYS
        )
    return bool(shown == item)
