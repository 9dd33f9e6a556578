"""What planning reads: the objects behind a DataFlow, a FunctionChain or a FunctionType.

Two users: ``access`` checks the reads that cross namespaces before anything of them is used,
and ``referenced_configmaps`` tells an adapter which ConfigMaps to watch at all (a ConfigMap
that nothing refers to is never watched, so never parsed or journaled).

Config ConfigMaps are looked up in the DataFlow's namespace, then in ``default``; the second
lookup is a read of ``default`` (even when it finds nothing: "not found there" is news too).
"""

from __future__ import annotations

from collections.abc import Iterator

from kasugai.core.access import Read
from kasugai.core.events import ObjectKey
from kasugai.core.model import DataFlowObject, DataFlowSpec, FunctionChainSpec, FunctionTypeSpec
from kasugai.core.resolve import CONFIG_NAMESPACE, check_function_type, find_type
from kasugai.core.world import World

__all__ = ["chain_reads", "dataflow_reads", "referenced_configmaps", "type_reads"]


def type_reads(world: World, key: ObjectKey) -> list[Read]:
    """A FunctionType reads its functioninfo ConfigMap."""
    spec = world.value(key)
    if not isinstance(spec, FunctionTypeSpec):
        return []
    ref = spec.function_info_cm_ref
    field = f"FunctionType {key.namespace}/{key.name}: spec.functionInfoCMRef"
    return [Read(field, "ConfigMap", ref.namespace, ref.name)]


def _chain_types(world: World, key: ObjectKey) -> Iterator[tuple[str, ObjectKey]]:
    """(function key, FunctionType key) of every function of the chain that resolves."""
    spec = world.value(key)
    if not isinstance(spec, FunctionChainSpec):
        return
    for function_key, function in spec.functions.items():
        type_key, _ = find_type(
            world, spec.function_type_namespace, function.function_name, function.version
        )
        if type_key is not None:
            yield function_key, type_key


def chain_reads(world: World, key: ObjectKey) -> list[Read]:
    """A FunctionChain reads the FunctionTypes of its namespace for them, and what they read."""
    spec = world.value(key)
    if not isinstance(spec, FunctionChainSpec):
        return []
    field = f"FunctionChain {key.namespace}/{key.name}: spec.functionTypeNamespace"
    reads = [Read(field, "FunctionType", spec.function_type_namespace)]
    for _, type_key in _chain_types(world, key):
        reads.extend(type_reads(world, type_key))
    return reads


def _config_names(world: World, chain: ObjectKey) -> list[tuple[str, str]]:
    """(function key, config ConfigMap name) of every function whose type names one."""
    found = []
    for function_key, type_key in _chain_types(world, chain):
        item = check_function_type(world, type_key).item
        if item is not None:
            found.append((function_key, item.config_name))
    return found


def dataflow_reads(world: World, key: ObjectKey, spec: DataFlowSpec) -> list[Read]:
    """A DataFlow reads its chain, what the chain reads, and its functions' configs."""
    ref = spec.function_chain_ref
    chain = ObjectKey("FunctionChain", ref.namespace, ref.name)
    reads = [Read("spec.functionChainRef", "FunctionChain", ref.namespace, ref.name)]
    reads.extend(chain_reads(world, chain))
    for function_key, name in _config_names(world, chain):
        if world.get(ObjectKey("ConfigMap", key.namespace, name)) is None:
            field = f"function {function_key}: config ConfigMap {name}"
            reads.append(Read(field, "ConfigMap", CONFIG_NAMESPACE, name))
    return reads


def referenced_configmaps(world: World) -> frozenset[ObjectKey]:
    """Every ConfigMap some FunctionType or DataFlow refers to (or would find if it existed)."""
    found: set[ObjectKey] = set()
    for type_key in world.keys("FunctionType"):
        reads = type_reads(world, type_key)
        found.update(ObjectKey("ConfigMap", read.namespace, read.name) for read in reads)
    for key in world.keys("DataFlow"):
        dataflow = world.value(key)
        if not isinstance(dataflow, DataFlowObject) or not isinstance(dataflow.spec, DataFlowSpec):
            continue
        spec = dataflow.spec
        if spec.user_requirement:
            found.add(ObjectKey("ConfigMap", key.namespace, spec.user_requirement))
        ref = spec.function_chain_ref
        chain = ObjectKey("FunctionChain", ref.namespace, ref.name)
        for _, name in _memoized_config_names(world, chain):
            found.add(ObjectKey("ConfigMap", key.namespace, name))
            found.add(ObjectKey("ConfigMap", CONFIG_NAMESPACE, name))
    return frozenset(found)


def _memoized_config_names(world: World, chain: ObjectKey) -> list[tuple[str, str]]:
    """``_config_names``, once per world and chain: many DataFlows share a chain."""
    return world.memoized(("config names", chain), lambda: _config_names(world, chain))
