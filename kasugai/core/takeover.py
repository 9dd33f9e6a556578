"""Taking back a list of a managed object that another manager changed under kasugai.

Server-Side Apply merges list items by their key fields, and even with ``force`` it cannot remove
an item another manager owns. So when someone edits the key of an item kasugai set (a Service
port 8080 changed to 9999 by ``kubectl edit``), the item becomes theirs, kasugai's apply adds its
own item back next to it, and the API server refuses the result (``spec.ports[1].name:
Duplicate value``) on every apply after.

``restore_lists(desired, live)`` finds, at any depth of the fields kasugai sets, the lists whose
live items block it: an item whose key is not one kasugai wants, or a matched item whose
identifying field (a port, a name, a path...) was changed. It returns a JSON patch that sets
each such list to what kasugai wants (keeping what the server filled into the items kasugai
keeps, such as a nodePort, and the items the server adds on its own), valid only for the live
version it was made from. The apply that follows claims the list again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kasugai.core.diff import MERGE_KEYS, covers, merge_key, server_added
from kasugai.core.fieldsets import Segment, pointer

__all__ = ["restore_lists"]

# Fields that name a list item to the API server (its list-map keys), besides the merge key the
# diff matched the item by: changing one makes the item another one.
_IDENTITY = (*MERGE_KEYS, "protocol")


def restore_lists(desired: Mapping[str, Any], live: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A JSON patch (a ``test`` of the resourceVersion first) replacing every list of ``live``
    whose items block ``desired``; ``[]`` when there is none."""
    replaced = list(_blocked(desired, live, ()))
    if not replaced:
        return []
    version = str((live.get("metadata") or {}).get("resourceVersion", ""))
    ops: list[dict[str, Any]] = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": version}
    ]
    ops.extend({"op": "replace", "path": pointer(at), "value": value} for at, value in replaced)
    return ops


Replaced = list[tuple[tuple[Segment, ...], Any]]  # (where a list is, what it becomes)


def _blocked(want: Any, have: Any, at: tuple[Segment, ...]) -> Replaced:
    if isinstance(want, Mapping) and isinstance(have, Mapping):
        found: Replaced = []
        for field, value in want.items():
            if field in have:
                found.extend(_blocked(value, have[field], (*at, field)))
        return found
    if not isinstance(want, list) or not isinstance(have, list):
        return []
    field = merge_key(want)
    if field is None:  # a list the server replaces whole on apply, unless it differs in length
        return [] if covers(want, have) else [(at, want)]
    wanted = {str(item[field]): item for item in want}
    matched: dict[str, int] = {}
    extra = False
    for index, item in enumerate(have):
        if not isinstance(item, Mapping) or server_added(field, item):
            continue
        name = str(item.get(field))
        if name not in wanted:
            extra = True
            continue
        extra = extra or _renamed(wanted[name], item)
        matched[name] = index
    if extra:
        return [(at, _restored(want, have, field, matched))]
    inner: Replaced = []
    for name, index in matched.items():
        inner.extend(_blocked(wanted[name], have[index], (*at, index)))
    return inner


def _renamed(want: Mapping[str, Any], have: Mapping[str, Any]) -> bool:
    """The live item differs from the wanted one in a field that names it."""
    return any(
        field in want and field in have and str(want[field]) != str(have[field])
        for field in _IDENTITY
    )


def _restored(
    want: list[Any], have: list[Any], field: str, matched: Mapping[str, int]
) -> list[Any]:
    """The list kasugai wants: its items over the live ones they match (what the server filled
    in stays), then the items the server added."""
    items = []
    for item in want:
        index = matched.get(str(item[field]))
        items.append({**have[index], **item} if index is not None else dict(item))
    items.extend(item for item in have if server_added(field, item))
    return items
