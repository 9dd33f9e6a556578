"""Reading the inputs behind a DataFlow: FunctionTypes, the FunctionChain graph, config entries.

Everything that can stop a DataFlow is a ``Problem``: ``waiting`` when an input is missing and may
still be applied (any apply order works; the DataFlow waits), otherwise invalid (the user must fix
something). Messages name the object and the path of the field, e.g.
``spec.connections[2].to.functionKey: unknown function 'x' (known: minus, plus)``.

Region types (functioninfo ``regionType``): ``cpu`` is a CPU function; FPGA families (``alveo*``,
``u200``-style Alveo card names, anything mentioning ``fpga``, ``agilex``, ``stratix``, ``arria``,
``versal``) are unsupported; anything else (``a100``, ``t4``, ``l40``...) is a GPU. The first
supported deployable item of a functioninfo is used.
"""

from __future__ import annotations

import graphlib
import re
from collections.abc import Iterable

import attrs

from kasugai.core import names
from kasugai.core.convert import Invalid, shown
from kasugai.core.events import ObjectKey
from kasugai.core.model import (
    ConfigEntry,
    Connection,
    DeployableItem,
    FunctionChainSpec,
    FunctionConfig,
    FunctionInfo,
    FunctionLimits,
    FunctionTypeSpec,
)
from kasugai.core.problem import Problem
from kasugai.core.world import FunctionTypeName, World

__all__ = [
    "CONFIG_NAMESPACE",
    "ChainCheck",
    "ChainNode",
    "EntryChoice",
    "Problem",
    "TypeCheck",
    "check_chain",
    "check_function_type",
    "choose_entry",
    "find_type",
    "region_kind",
]


def _prefixed(prefix: str, problems: tuple[Problem, ...]) -> tuple[Problem, ...]:
    return tuple(attrs.evolve(p, message=f"{prefix}: {p.message}") for p in problems)


def _unreadable(key: ObjectKey, spec: object) -> tuple[Problem, ...]:
    """Why the object at ``key`` cannot be read: missing (it may still appear) or Invalid."""
    if spec is None:
        return (Problem(f"{key.kind} {key.namespace}/{key.name} not found", True),)
    if isinstance(spec, Invalid):
        return tuple(Problem(p) for p in spec.problems)
    return ()


# --- FunctionType ---------------------------------------------------------------------------

# Where the original read every config ConfigMap; kasugai looks in the DataFlow's namespace first.
CONFIG_NAMESPACE = "default"

_FPGA = re.compile(r"^(alveo|u2[05]0|u280|u5[05]c?)|fpga|agilex|stratix|arria|versal")


def region_kind(region_type: str) -> str:
    """``cpu``, ``gpu`` or ``fpga`` for a functioninfo ``regionType`` (see module docstring)."""
    lowered = region_type.strip().lower()
    if lowered == "cpu":
        return "cpu"
    return "fpga" if _FPGA.search(lowered) else "gpu"


@attrs.frozen
class TypeCheck:
    """A FunctionType read against the world: the item and limits it gives, or its problems."""

    problems: tuple[Problem, ...]
    item: DeployableItem | None = None
    limits: FunctionLimits = attrs.field(factory=FunctionLimits)
    gpu: bool = False


def check_function_type(world: World, key: ObjectKey) -> TypeCheck:
    """A FunctionType's deployable item and limits, or its problems (memoized per world)."""
    return world.memoized(("type", key), lambda: _check_function_type(world, key))


def _check_function_type(world: World, key: ObjectKey) -> TypeCheck:
    spec = world.value(key)
    if unreadable := _unreadable(key, spec):
        return TypeCheck(unreadable)
    assert isinstance(spec, FunctionTypeSpec)
    ref = spec.function_info_cm_ref
    where = f"spec.functionInfoCMRef: ConfigMap {ref.namespace}/{ref.name}"
    info = world.value(ObjectKey("ConfigMap", ref.namespace, ref.name))
    if info is None:
        return TypeCheck((Problem(f"{where} not found", True),))
    if isinstance(info, Invalid):
        return TypeCheck(tuple(Problem(f"{where}: {p}") for p in info.problems))
    if not isinstance(info, FunctionInfo):
        return TypeCheck((Problem(f"{where} is not a functioninfo (no data.deployableItems)"),))
    if not info.deployable_items:
        return TypeCheck((Problem(f"{where}: data[deployableItems] is empty"),))
    supported = [i for i in info.deployable_items if region_kind(i.region_type) != "fpga"]
    if not supported:
        regions = ", ".join(sorted({i.region_type for i in info.deployable_items}))
        return TypeCheck(
            (Problem(f"{where}: regionType {regions} is an FPGA; FPGA functions are unsupported"),)
        )
    item = supported[0]
    limits = next((s for s in info.specs if s.name == item.spec_name), FunctionLimits())
    return TypeCheck((), item, limits, region_kind(item.region_type) == "gpu")


def find_type(
    world: World, namespace: str, name: str, version: str
) -> tuple[ObjectKey | None, str]:
    """The FunctionType with this functionName and version, or why there is none (memoized per
    world: every chain, its status and each of its DataFlows' access checks look it up)."""
    return world.memoized(
        ("find type", namespace, name, version),
        lambda: _find_type(world, namespace, name, version),
    )


def _find_type(
    world: World, namespace: str, name: str, version: str
) -> tuple[ObjectKey | None, str]:
    candidates = sorted(world.having_alias(FunctionTypeName(namespace, name)))
    versions: dict[str, ObjectKey] = {}
    for key in candidates:
        spec = world.value(key)
        if isinstance(spec, FunctionTypeSpec):
            versions.setdefault(spec.version, key)
    if version in versions:
        return versions[version], ""
    listed = ", ".join(shown(v, quoted=False) for v in sorted(versions))
    found = f" (found versions: {listed})" if versions else ""
    return None, (
        f"FunctionType with functionName {shown(name)} and version {shown(version)} "
        f"not found in namespace {shown(namespace)}{found}"
    )


# --- FunctionChain --------------------------------------------------------------------------


@attrs.frozen
class ChainNode:
    """A function of a chain: its type, and its connections in and out.

    ``first``: no function feeds it (data enters here, from ``wb-start-of-chain``).
    ``successors``: its connections to functions, lowest output port first.
    """

    key: str
    type_key: ObjectKey | None
    type_check: TypeCheck
    inputs: tuple[Connection, ...]
    outputs: tuple[Connection, ...]
    first: bool = attrs.field(init=False)
    successors: tuple[Connection, ...] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        first = all(c.from_.function_key in names.RESERVED_KEYS for c in self.inputs)
        found = [c for c in self.outputs if c.to.function_key not in names.RESERVED_KEYS]
        object.__setattr__(self, "first", first)
        object.__setattr__(self, "successors", tuple(sorted(found, key=lambda c: c.from_.port)))


@attrs.frozen
class ChainCheck:
    """A FunctionChain read against the world; ``nodes`` in data-flow (topological) order."""

    problems: tuple[Problem, ...]
    nodes: tuple[ChainNode, ...] = ()


def check_chain(world: World, key: ObjectKey) -> ChainCheck:
    """A FunctionChain's functions in order, or its problems (memoized per world)."""
    return world.memoized(("chain", key), lambda: _check_chain(world, key))


def _check_chain(world: World, key: ObjectKey) -> ChainCheck:
    spec = world.value(key)
    if unreadable := _unreadable(key, spec):
        return ChainCheck(unreadable)
    assert isinstance(spec, FunctionChainSpec)
    problems = _key_problems(spec)
    types: dict[str, tuple[ObjectKey | None, TypeCheck]] = {}
    for fkey, function in spec.functions.items():
        type_key, missing = find_type(
            world, spec.function_type_namespace, function.function_name, function.version
        )
        check = check_function_type(world, type_key) if type_key else TypeCheck(())
        if missing:
            problems.append(Problem(f"spec.functions.{fkey}: {missing}", True))
        if type_key is not None:
            prefix = f"spec.functions.{fkey}: FunctionType {type_key.namespace}/{type_key.name}"
            problems.extend(_prefixed(prefix, check.problems))
        types[fkey] = (type_key, check)
    problems.extend(_connection_problems(spec))
    if problems:
        return ChainCheck(tuple(problems))
    inputs: dict[str, list[Connection]] = {fkey: [] for fkey in types}
    outputs: dict[str, list[Connection]] = {fkey: [] for fkey in types}
    for connection in spec.connections:
        inputs.get(connection.to.function_key, []).append(connection)
        outputs.get(connection.from_.function_key, []).append(connection)
    nodes = {
        fkey: ChainNode(fkey, type_key, check, tuple(inputs[fkey]), tuple(outputs[fkey]))
        for fkey, (type_key, check) in types.items()
    }
    limits = _limit_problems(nodes.values())
    order, cycle = _order(spec)
    if cycle:
        limits.append(Problem(f"spec.connections: cycle {' -> '.join(cycle)}"))
    if limits:
        return ChainCheck(tuple(limits))
    return ChainCheck((), tuple(nodes[fkey] for fkey in order))


def _key_problems(spec: FunctionChainSpec) -> list[Problem]:
    problems = []
    if not spec.functions:
        problems.append(Problem("spec.functions: no functions"))
    for fkey in spec.functions:
        if fkey in names.RESERVED_KEYS or not fkey:
            problems.append(Problem(f"spec.functions.{fkey}: {shown(fkey)} is reserved"))
        elif names.SEPARATOR_WORD in fkey:
            problems.append(
                Problem(
                    f"spec.functions.{fkey}: a function key may not contain "
                    f"{names.SEPARATOR_WORD!r}: object names are <dataflow>-wbfunction-<key>, "
                    "and such a key could name another DataFlow's objects (rename the key)"
                )
            )
    return problems


def _connection_problems(spec: FunctionChainSpec) -> list[Problem]:
    known = sorted(spec.functions)
    problems = []
    used: dict[tuple[str, str, int], int] = {}
    for index, connection in enumerate(spec.connections):
        for side, end, allowed, forbidden in (
            ("from", connection.from_, names.START_OF_CHAIN, names.END_OF_CHAIN),
            ("to", connection.to, names.END_OF_CHAIN, names.START_OF_CHAIN),
        ):
            path = f"spec.connections[{index}].{side}"
            fkey = end.function_key
            if fkey == forbidden:
                problems.append(
                    Problem(f"{path}.functionKey: {shown(fkey)} cannot be a {side} end")
                )
            elif fkey != allowed and fkey not in spec.functions:
                problems.append(
                    Problem(
                        f"{path}.functionKey: unknown function {shown(fkey)} "
                        f"(known: {', '.join(known)})"
                    )
                )
            if end.port < 0:
                problems.append(Problem(f"{path}.port: {end.port} is negative"))
            if fkey in names.RESERVED_KEYS:
                continue
            earlier = used.setdefault((side, fkey, end.port), index)
            if earlier != index:
                problems.append(
                    Problem(
                        f"{path}: port {end.port} of {shown(fkey)} is already used "
                        f"by spec.connections[{earlier}].{side}"
                    )
                )
    return problems


def _limit_problems(nodes: Iterable[ChainNode]) -> list[Problem]:
    problems = []
    for node in nodes:
        limits = node.type_check.limits
        for count, limit, what in (
            (len(node.inputs), limits.max_input_num, "inputs"),
            (len(node.outputs), limits.max_output_num, "outputs"),
        ):
            if count > limit:
                field = "maxInputNum" if what == "inputs" else "maxOutputNum"
                problems.append(
                    Problem(
                        f"spec.connections: function {shown(node.key)} has {count} {what}; its "
                        f"FunctionType allows {limit} ({field})"
                    )
                )
    return problems


def _order(spec: FunctionChainSpec) -> tuple[list[str], list[str]]:
    """Function keys in data-flow order (ties in spec order), or a cycle as a list of keys."""
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for fkey in spec.functions:
        sorter.add(fkey)
    for connection in spec.connections:
        source, target = connection.from_.function_key, connection.to.function_key
        if source in spec.functions and target in spec.functions:
            sorter.add(target, source)
    try:
        return list(sorter.static_order()), []
    except graphlib.CycleError as exc:
        # graphlib lists the cycle in data-flow order, closing it with its first node again;
        # start it at the function written first in the spec so the message is stable.
        loop: list[str] = list(exc.args[1][:-1])
        start = min(range(len(loop)), key=lambda i: list(spec.functions).index(loop[i]))
        loop = loop[start:] + loop[:start]
        return [], [*loop, loop[0]]


# --- config entries -------------------------------------------------------------------------


@attrs.frozen
class EntryChoice:
    """The config entry a function runs with; ``fallback`` says why a mismatch was accepted."""

    entry: ConfigEntry | None
    configmap: ObjectKey | None
    problems: tuple[Problem, ...] = ()
    fallback: str = ""


def _find_config(world: World, namespace: str, name: str) -> ObjectKey | None:
    """The config ConfigMap ``name``: in the DataFlow's namespace if there, else in ``default``."""
    for candidate in dict.fromkeys((namespace, CONFIG_NAMESPACE)):
        key = ObjectKey("ConfigMap", candidate, name)
        if world.get(key) is not None:
            return key
    return None


def _protocol(value: str) -> str:
    """An entry's protocol as a message shows it: only the ones kasugai matches on (a value)."""
    return value if value in ("RTP", "TCP") else "other"


def choose_entry(world: World, namespace: str, node: ChainNode) -> EntryChoice:
    """Find the config ConfigMap (DataFlow namespace, then ``default``) and pick the entry.

    rx is RTP for a first function (else TCP), tx RTP for a last one (else TCP); the last entry
    matching both wins. kasugai: no match but a single entry means that entry, with a note.
    """
    assert node.type_check.item is not None
    name = node.type_check.item.config_name
    key = _find_config(world, namespace, name)
    if key is None:
        spaces = " or ".join(shown(n) for n in dict.fromkeys((namespace, CONFIG_NAMESPACE)))
        missing = (
            f"function {shown(node.key)}: config ConfigMap {shown(name)} not found in {spaces}"
        )
        return EntryChoice(None, None, (Problem(missing, waiting=True),))
    where = f"function {shown(node.key)}: ConfigMap {key.namespace}/{name}"
    config = world.value(key)
    if isinstance(config, Invalid):
        return EntryChoice(None, key, tuple(Problem(f"{where}: {p}") for p in config.problems))
    if not isinstance(config, FunctionConfig):
        return EntryChoice(None, key, (Problem(f"{where} is not a function config"),))
    if not config.entries:
        return EntryChoice(None, key, (Problem(f"{where} has no entries"),))
    rx = "RTP" if node.first else "TCP"
    tx = "TCP" if node.successors else "RTP"
    matching = [e for e in config.entries if (e.rx_protocol, e.tx_protocol) == (rx, tx)]
    if matching:
        return EntryChoice(matching[-1], key)
    pairs = ", ".join(
        f"{_protocol(e.rx_protocol)}/{_protocol(e.tx_protocol)}" for e in config.entries
    )
    wanted = f"rxProtocol={rx} txProtocol={tx}"
    if len(config.entries) == 1:
        note = f"{where}: no entry for {wanted}; using its only entry ({pairs})"
        return EntryChoice(config.entries[0], key, fallback=note)
    return EntryChoice(None, key, (Problem(f"{where}: no entry for {wanted} (entries: {pairs})"),))
