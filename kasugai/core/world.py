"""The World: an immutable snapshot of every observed object, folded from events.

``fold(world, event)`` returns a new World; the old one is untouched. The maps are persistent
(``immutables.Map``, a hash array mapped trie): a new version shares all but the path to what an
event changed, so a fold at 10,000 DataFlows costs what it costs at 10 (a copied dict per kind and
index cost milliseconds per event there). Bodies are parsed once, here, into domain values
(``kasugai.core.parse``).

Two indexes answer "which DataFlows does this event concern" (``concerned``) without scanning:

* ``aliases``: the names an object is looked up by besides its key: a FunctionType by
  ``FunctionTypeName(namespace, functionName)`` (chains name types that way), a ConfigMap by
  ``ConfigName(name)`` (a functioninfo names its config ConfigMap without a namespace; the planner
  looks in the DataFlow's namespace, then ``default``).
* ``referrers``: token -> the objects whose body refers to it: a DataFlow refers to its
  FunctionChain and user-requirement ConfigMap, a chain to its FunctionTypeNames, a FunctionType
  to its functioninfo ConfigMap, a functioninfo to the ConfigNames of its configs.

Pods, Services and our own ConfigMaps point at their DataFlow by the ``kasugai.io/dataflow``
label, else a controller ownerReference, else their name (``<dataflow>-wbfunction-...``); the
``inventory`` index lists the objects carrying our managed-by label per DataFlow.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import attrs
from immutables import Map, MapMutation

from kasugai.core import names
from kasugai.core.access import ACCESS_KIND
from kasugai.core.convert import JSON_OBJECT, Invalid
from kasugai.core.events import Event, Forgotten, ObjectKey, Observed
from kasugai.core.model import DataFlowObject, FunctionChainSpec, FunctionInfo, FunctionTypeSpec
from kasugai.core.parse import Parsed, parse_body

__all__ = [
    "Concern",
    "ConfigName",
    "FunctionTypeName",
    "Stored",
    "Token",
    "World",
    "concerned",
    "fold",
    "fold_all",
]


@attrs.frozen(order=True)
class FunctionTypeName:
    """How a FunctionChain names a FunctionType: by ``functionName`` in a namespace."""

    namespace: str
    function_name: str


@attrs.frozen(order=True)
class ConfigName:
    """How a functioninfo names a config ConfigMap: by name, in no particular namespace."""

    name: str


T = TypeVar("T")
Token = ObjectKey | FunctionTypeName | ConfigName
Index = Mapping[Token, frozenset[ObjectKey]]


@attrs.frozen
class Stored:
    """An observed object: its body as received and the domain value parsed from it."""

    body: Mapping[str, Any] = attrs.field(hash=False)
    value: Parsed = attrs.field(hash=False)


@attrs.frozen
class World:
    objects: Map[str, Map[tuple[str, str], Stored]] = attrs.field(factory=Map)
    aliases: Map[Token, frozenset[ObjectKey]] = attrs.field(factory=Map)
    referrers: Map[Token, frozenset[ObjectKey]] = attrs.field(factory=Map)
    inventory: Map[Token, frozenset[ObjectKey]] = attrs.field(factory=Map)
    # Results of pure functions of this world (chain and type checks), computed once per world:
    # many DataFlows share a chain, and a chain's status and its DataFlows' plans both need it.
    _memo: dict[Hashable, Any] = attrs.field(factory=dict, init=False, eq=False, repr=False)

    def memoized(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, once per world and ``key`` (which must name everything it depends on)."""
        if key not in self._memo:
            self._memo[key] = compute()
        value: T = self._memo[key]
        return value

    def get(self, key: ObjectKey) -> Stored | None:
        objects = self.objects.get(key.kind)
        return objects.get((key.namespace, key.name)) if objects is not None else None

    def value(self, key: ObjectKey) -> Parsed:
        stored = self.get(key)
        return stored.value if stored else None

    def keys(self, kind: str) -> list[ObjectKey]:
        """Every object of a kind, sorted by namespace and name."""
        return [ObjectKey(kind, ns, name) for ns, name in sorted(self.objects.get(kind, ()))]

    def having_alias(self, token: Token) -> frozenset[ObjectKey]:
        return self.aliases.get(token, frozenset())

    def referring_to(self, token: Token) -> frozenset[ObjectKey]:
        return self.referrers.get(token, frozenset())

    def inventory_of(self, dataflow: ObjectKey) -> frozenset[ObjectKey]:
        return self.inventory.get(dataflow, frozenset())

    def __iter__(self) -> Iterator[tuple[ObjectKey, Stored]]:
        for kind, objects in sorted(self.objects.items()):
            for (namespace, name), stored in sorted(objects.items(), key=lambda item: item[0]):
                yield ObjectKey(kind, namespace, name), stored


def fold(world: World, event: Event) -> World:
    """The world after ``event``. Decisions (``Transitioned``) change nothing."""
    return fold_all(world, (event,))


def fold_all(world: World, events: Iterable[Event]) -> World:
    """The world after every event in order; one copy of each touched dict for the whole batch."""
    builder = _Builder(world)
    for event in events:
        if isinstance(event, Observed):
            value = parse_body(event.kind, event.namespace, event.body)
            builder.put(event.key, Stored(event.body, value))
        elif isinstance(event, Forgotten):
            builder.put(event.key, None)
    return builder.build()


# --- what an object is called, what it refers to, whose it is -------------------------------


def _aliases(key: ObjectKey, stored: Stored) -> set[Token]:
    value = stored.value
    if isinstance(value, FunctionTypeSpec):
        return {FunctionTypeName(key.namespace, value.function_name)}
    if key.kind == "ConfigMap":
        return {ConfigName(key.name)}
    return set()


def _references(key: ObjectKey, stored: Stored) -> set[Token]:
    value = stored.value
    if isinstance(value, DataFlowObject) and not isinstance(value.spec, Invalid):
        ref = value.spec.function_chain_ref
        found: set[Token] = {ObjectKey("FunctionChain", ref.namespace, ref.name)}
        if value.spec.user_requirement:
            found.add(ObjectKey("ConfigMap", key.namespace, value.spec.user_requirement))
        return found
    if isinstance(value, FunctionChainSpec):
        namespace = value.function_type_namespace
        return {FunctionTypeName(namespace, f.function_name) for f in value.functions.values()}
    if isinstance(value, FunctionTypeSpec):
        ref = value.function_info_cm_ref
        return {ObjectKey("ConfigMap", ref.namespace, ref.name)}
    if isinstance(value, FunctionInfo):
        return {ConfigName(item.config_name) for item in value.deployable_items}
    return set()


def _meta(body: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = body.get("metadata")
    return meta if isinstance(meta, JSON_OBJECT) else {}


_WRITTEN_KINDS = frozenset({"Pod", "Service", "ConfigMap", "ServiceAccount", "Role", "RoleBinding"})


def owning_dataflow(key: ObjectKey, body: Mapping[str, Any]) -> ObjectKey | None:
    """The DataFlow an object kasugai writes (a Pod, a connection ConfigMap...) belongs to."""
    if key.kind not in _WRITTEN_KINDS:
        return None
    meta = _meta(body)
    labels = meta.get("labels")
    if isinstance(labels, JSON_OBJECT) and labels.get(names.DATAFLOW_LABEL):
        return ObjectKey("DataFlow", key.namespace, str(labels[names.DATAFLOW_LABEL]))
    owners = meta.get("ownerReferences")
    for owner in owners if isinstance(owners, list) else []:
        if isinstance(owner, JSON_OBJECT) and owner.get("kind") == "DataFlow" and owner.get("name"):
            return ObjectKey("DataFlow", key.namespace, str(owner["name"]))
    dataflow, found, _ = key.name.removeprefix("ethcrl.").partition("-wbfunction-")
    return ObjectKey("DataFlow", key.namespace, dataflow) if found and dataflow else None


def _inventory_owner(key: ObjectKey, stored: Stored) -> ObjectKey | None:
    labels = _meta(stored.body).get("labels")
    if isinstance(labels, JSON_OBJECT) and labels.get(names.MANAGED_BY_LABEL) == names.MANAGER:
        return owning_dataflow(key, stored.body)
    return None


class _Builder:
    """Edits of a World: one mutation of each touched map, index sets frozen at the end."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._objects: dict[str, MapMutation[tuple[str, str], Stored]] = {}
        self._indexes: dict[str, dict[Token, set[ObjectKey]]] = {
            "aliases": {},
            "referrers": {},
            "inventory": {},
        }

    def put(self, key: ObjectKey, stored: Stored | None) -> None:
        objects = self._objects.get(key.kind)
        if objects is None:
            objects = self._objects[key.kind] = self._world.objects.get(key.kind, Map()).mutate()
        old = objects.get((key.namespace, key.name))
        if old is not None:
            self._index(key, old, remove=True)
            del objects[(key.namespace, key.name)]
        if stored is not None:
            objects[(key.namespace, key.name)] = stored
            self._index(key, stored, remove=False)

    def _index(self, key: ObjectKey, stored: Stored, remove: bool) -> None:
        owner = _inventory_owner(key, stored)
        contributions = (
            ("aliases", _aliases(key, stored)),
            ("referrers", _references(key, stored)),
            ("inventory", {owner} if owner else set()),
        )
        for index, tokens in contributions:
            for token in tokens:
                members = self._members(index, token)
                if remove:
                    members.discard(key)
                else:
                    members.add(key)

    def _members(self, index: str, token: Token) -> set[ObjectKey]:
        touched = self._indexes[index]
        if token not in touched:
            original: Index = getattr(self._world, index)
            touched[token] = set(original.get(token, ()))
        return touched[token]

    def build(self) -> World:
        with self._world.objects.mutate() as objects:
            for kind, mutation in self._objects.items():
                found = mutation.finish()
                if found:
                    objects[kind] = found
                elif kind in objects:
                    del objects[kind]
            built = objects.finish()
        indexes: dict[str, Map[Token, frozenset[ObjectKey]]] = {}
        for index, touched in self._indexes.items():
            original: Map[Token, frozenset[ObjectKey]] = getattr(self._world, index)
            with original.mutate() as merged:
                for token, members in touched.items():
                    if members:
                        merged[token] = frozenset(members)
                    elif token in merged:
                        del merged[token]
                indexes[index] = merged.finish()
        return World(
            objects=built,
            aliases=indexes["aliases"],
            referrers=indexes["referrers"],
            inventory=indexes["inventory"],
        )


# --- which objects an event concerns --------------------------------------------------------


@attrs.frozen
class Concern:
    """The DataFlows, FunctionChains and FunctionTypes whose plan or status an event may change."""

    dataflows: frozenset[ObjectKey]
    chains: frozenset[ObjectKey]
    types: frozenset[ObjectKey]


_NONE = Concern(frozenset(), frozenset(), frozenset())


def concerned(before: World, after: World, key: ObjectKey) -> Concern:
    """What a change of the object ``key`` (between two worlds) concerns.

    Walks the referrer index from the object's key and aliases (old and new) up to DataFlows;
    Pods, Services and our ConfigMaps lead to their owning DataFlow. Over-approximates (e.g. a
    config ConfigMap concerns every DataFlow using a config of that name, in any namespace):
    re-planning an unaffected DataFlow only costs time.
    """
    versions = [stored for stored in (before.get(key), after.get(key)) if stored is not None]
    if not versions:
        return _NONE
    if key.kind == ACCESS_KIND:  # an answer about what this namespace's accounts may read
        return Concern(
            *(
                frozenset(k for k in after.keys(kind) if k.namespace == key.namespace)
                for kind in ("DataFlow", "FunctionChain", "FunctionType")
            )
        )
    found: dict[str, set[ObjectKey]] = {
        "DataFlow": set(),
        "FunctionChain": set(),
        "FunctionType": set(),
    }
    for stored in versions:
        owner = owning_dataflow(key, stored.body)
        if owner is not None and after.get(owner) is not None:
            found["DataFlow"].add(owner)
    frontier: list[Token] = [key]
    for stored in versions:
        frontier.extend(_aliases(key, stored))
    seen: set[Token] = set()
    while frontier:
        token = frontier.pop()
        if token in seen:
            continue
        seen.add(token)
        if isinstance(token, ObjectKey):
            found.get(token.kind, set()).add(token)
            stored_token = after.get(token) or before.get(token)
            if stored_token is not None and token != key:
                frontier.extend(_aliases(token, stored_token))
        frontier.extend(after.referring_to(token))
    return Concern(
        frozenset(k for k in found["DataFlow"] if after.get(k) or k == key),
        frozenset(found["FunctionChain"]),
        frozenset(found["FunctionType"]),
    )
