"""What kasugai set last time and no longer wants: Server-Side Apply's field sets, read.

The API server records, per manager, the fields it owns in ``metadata.managedFields``: a
``fieldsV1`` tree whose keys are ``f:<field>`` (a map field), ``k:<json>`` (a list item named by
its key fields), ``v:<json>`` (an item of a list of values) and ``.`` (the map or item itself).
kasugai's own entry (manager ``kasugai``, operation ``Apply``) is what it applied last time.

``removals(desired, live, owned, others)`` walks that tree along the live object and returns the
fields kasugai owns that ``desired`` no longer sets and no other manager owns: the fields a
Server-Side Apply would remove. kasugai removes them itself (``json_patch``), because the
create (a POST, which also records kasugai's ``Update`` entry) co-owns them, and a co-owned
field survives an apply that omits it.

An object whose ``metadata.managedFields`` is present but holds no such entry was never applied
by kasugai (it was created, or written by an older kasugai): ``unclaimed`` says so, and an apply
claims it. Objects without ``managedFields`` at all (offline inputs, the local runtime) have no
record to compare with: nothing is removed there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from kasugai.core import bounded, names

__all__ = [
    "Removal",
    "Segment",
    "applied_fields",
    "json_patch",
    "kept_entries",
    "other_fields",
    "owns",
    "pointer",
    "removals",
    "unclaimed",
]

FieldPath = tuple[str, ...]  # fieldsV1 keys from the root: ("f:metadata", "f:labels", "f:a")
Segment = str | int


@attrs.frozen
class Removal:
    """One field to remove: where it is in the live object, and its path in a field set."""

    at: tuple[Segment, ...]
    fields: FieldPath

    def __str__(self) -> str:
        return pointer(self.at)


def _entries(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = (obj.get("metadata") or {}).get("managedFields")
    return [e for e in found if isinstance(e, Mapping)] if isinstance(found, list) else []


def _is_ours(entry: Mapping[str, Any]) -> bool:
    """kasugai's apply of the object itself (its status is applied as a subresource)."""
    return (
        entry.get("manager") == names.MANAGER
        and entry.get("operation") == "Apply"
        and not entry.get("subresource")
    )


def applied_fields(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """The fields kasugai applied last time (empty when it never did)."""
    for entry in _entries(obj):
        fields = entry.get("fieldsV1")
        if _is_ours(entry) and isinstance(fields, Mapping):
            return fields
    return {}


def other_fields(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The field sets of every manager but kasugai (its own Update entry is kasugai's too)."""
    return [
        entry["fieldsV1"]
        for entry in _entries(obj)
        if entry.get("manager") != names.MANAGER and isinstance(entry.get("fieldsV1"), Mapping)
    ]


def unclaimed(obj: Mapping[str, Any]) -> bool:
    """A cluster object (it has ``managedFields``) that kasugai has never applied."""
    meta = obj.get("metadata") or {}
    return "managedFields" in meta and not any(_is_ours(e) for e in _entries(obj))


def kept_entries(entries: Iterable[Any]) -> list[Any]:
    """The part of ``managedFields`` worth keeping in memory: kasugai's own Apply entry."""
    return [e for e in entries if isinstance(e, Mapping) and _is_ours(e)]


def owns(fields: Mapping[str, Any], path: FieldPath) -> bool:
    """Whether the field set holds ``path`` (the field itself or anything under it)."""
    node: Any = fields
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return False
        node = node[key]
    return True


def removals(
    desired: Mapping[str, Any],
    live: Mapping[str, Any],
    owned: Mapping[str, Any],
    others: Iterable[Mapping[str, Any]] = (),
) -> list[Removal]:
    """The fields of ``owned`` still in ``live`` that ``desired`` does not set, less those
    another manager owns too; an item gone from a list is one removal (the whole item)."""
    theirs = list(others)
    return [
        r
        for r in _walk(owned, desired, live, (), ())
        if not any(owns(fields, r.fields) for fields in theirs)
    ]


def _walk(
    node: Mapping[str, Any], want: Any, have: Any, at: tuple[Segment, ...], path: FieldPath
) -> Iterator[Removal]:
    for key, child in node.items():
        if key == "." or not isinstance(child, Mapping):
            continue
        kind, _, text = key.partition(":")
        if kind == "f" and isinstance(have, Mapping):
            if text not in have:
                continue  # gone already
            sub = want.get(text) if isinstance(want, Mapping) else None
            if not child or set(child) == {"."}:  # a leaf (or an atomic value)
                if not isinstance(want, Mapping) or text not in want:
                    yield Removal((*at, text), (*path, key))
                continue
            yield from _walk(child, sub, have[text], (*at, text), (*path, key))
        elif kind in ("k", "v") and isinstance(have, list):
            index = _find(have, kind, text)
            if index is None:
                continue
            wanted = _find(want, kind, text) if isinstance(want, list) else None
            if wanted is None:
                yield Removal((*at, index), (*path, key))
            elif kind == "k":
                yield from _walk(child, want[wanted], have[index], (*at, index), (*path, key))


def _find(items: list[Any], kind: str, text: str) -> int | None:
    """The index of the list item a ``k:``/``v:`` key names, if it is there."""
    try:  # the key comes from the cluster: read within limits
        ident = bounded.load_json(text)
    except bounded.ParseError:
        return None
    for index, item in enumerate(items):
        if kind == "v" and _same(item, ident):
            return index
        if (
            kind == "k"
            and isinstance(ident, Mapping)
            and isinstance(item, Mapping)
            and all(_same(item.get(field), value) for field, value in ident.items())
        ):
            return index
    return None


def _same(a: Any, b: Any) -> bool:
    """Equal as the API server compares keys (a port may come back as ``8080`` or ``"8080"``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b) or (a is not None and b is not None and str(a) == str(b))


def pointer(at: Iterable[Segment]) -> str:
    """A JSON pointer (RFC 6901)."""
    return "".join("/" + str(s).replace("~", "~0").replace("/", "~1") for s in at)


def json_patch(live: Mapping[str, Any], found: Iterable[Removal]) -> list[dict[str, Any]]:
    """A JSON patch removing ``found`` from ``live``, valid only for that version of it (a
    ``test`` of its resourceVersion comes first); later list items are removed first, so that
    the indices of the earlier ones still hold."""
    version = str((live.get("metadata") or {}).get("resourceVersion", ""))
    ops: list[dict[str, Any]] = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": version}
    ]
    ordered = sorted(found, key=lambda r: [(isinstance(s, int), s) for s in r.at], reverse=True)
    ops.extend({"op": "remove", "path": pointer(r.at)} for r in ordered)
    return ops
