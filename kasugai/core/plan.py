"""``plan_dataflow(world, key)``: the desired objects and status of one DataFlow, a pure function.

Steps: read the DataFlow, check its FunctionChain (``resolve``), resolve each function's config
entry and names (``functions``), build Pods and Services (``pods``, ``services``), find each
next function's address in the observed facts and render the ``ethcrl.<pod>`` ConfigMaps
(``connections``), derive the lifecycle state (``lifecycle``) and the status (``status``).

A DataFlow that cannot be planned (an input missing or invalid) keeps what it has: its desired
objects are the inventory objects observed for it, unchanged, so the diff writes nothing and
running functions keep running while the status explains what is wrong. Offline (nothing
observed) that is nothing. A DataFlow being deleted desires nothing.

``plan_status(world, key)`` gives the status of a FunctionChain or FunctionType.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from kasugai.core import lifecycle, names, rewiring
from kasugai.core.access import AccessQuestion, Read, gate
from kasugai.core.connections import (
    Destination,
    connection_config,
    connection_configmap,
    find_destination,
)
from kasugai.core.convert import Invalid
from kasugai.core.events import ObjectKey
from kasugai.core.functions import PlannedFunction, resolve_functions
from kasugai.core.identity import IDENTITY_KINDS, build_identity
from kasugai.core.inventory import Owner, copy_json
from kasugai.core.model import DataFlowObject, DataFlowSpec, PodFacts
from kasugai.core.options import PlanOptions
from kasugai.core.ownership import conflicts, owned_by
from kasugai.core.pods import build_pod
from kasugai.core.reads import chain_reads, dataflow_reads, type_reads
from kasugai.core.resolve import Problem, check_chain, check_function_type
from kasugai.core.services import build_service
from kasugai.core.status import (
    ConnectionPlan,
    FunctionPlan,
    dataflow_status,
    ready_status,
    summarize,
)
from kasugai.core.world import World

__all__ = ["DataFlowPlan", "Held", "StatusPlan", "plan_dataflow", "plan_status", "status_object"]

_FAILED_PHASES = frozenset({"Failed", "Succeeded", "Unknown"})
_HELD = "Rewiring: another next hop is not ready; keeping the last published address"


@attrs.frozen
class DataFlowPlan:
    """Everything the core wants for one DataFlow. Object dicts are Kubernetes JSON.

    ``service_account``: who the objects are written as (this namespace's account).
    ``questions``: the access checks its references across namespaces need (``access``).
    ``conflicts``: objects it would create that exist and are not its own (left untouched).
    """

    key: ObjectKey
    state: str
    message: str
    pods: tuple[dict[str, Any], ...] = attrs.field(hash=False)
    services: tuple[dict[str, Any], ...] = attrs.field(hash=False)
    configmaps: tuple[dict[str, Any], ...] = attrs.field(hash=False)
    functions: tuple[FunctionPlan, ...]
    connections: tuple[ConnectionPlan, ...]
    status: dict[str, Any] = attrs.field(hash=False)
    identities: tuple[dict[str, Any], ...] = attrs.field(default=(), hash=False)
    service_account: str = names.DATAFLOW_SERVICE_ACCOUNT
    questions: tuple[AccessQuestion, ...] = ()
    conflicts: tuple[ObjectKey, ...] = ()

    @property
    def objects(self) -> tuple[dict[str, Any], ...]:
        """Desired identities (a Pod's account must exist first), Pods, Services, ConfigMaps."""
        return self.identities + self.pods + self.services + self.configmaps


@attrs.frozen
class StatusPlan:
    """The status the core wants on a FunctionChain or FunctionType, and its access checks."""

    key: ObjectKey
    status: dict[str, Any] = attrs.field(hash=False)
    questions: tuple[AccessQuestion, ...] = ()


def status_object(key: ObjectKey, status: dict[str, Any]) -> dict[str, Any]:
    """A status as an object (what ``kasugai plan`` prints and the status subresource takes)."""
    return {
        "apiVersion": names.API_VERSION,
        "kind": key.kind,
        "metadata": {"name": key.name, "namespace": key.namespace},
        "status": status,
    }


def plan_status(
    world: World, key: ObjectKey, options: PlanOptions | None = None
) -> StatusPlan | None:
    """The status of a FunctionChain or FunctionType in ``world``; None if it is not there.

    Its reads in other namespaces are checked as that namespace's kasugai ServiceAccount.
    """
    options = options or PlanOptions()
    if world.get(key) is None or key.kind not in ("FunctionChain", "FunctionType"):
        return None
    reads = chain_reads(world, key) if key.kind == "FunctionChain" else type_reads(world, key)
    account = names.DATAFLOW_SERVICE_ACCOUNT
    denied, questions = _gate(world, options, key.namespace, account, reads)
    if denied:
        return StatusPlan(key, ready_status(denied, ""), questions)
    if key.kind == "FunctionChain":
        check = check_chain(world, key)
        ok = f"{len(check.nodes)} functions resolved"
        return StatusPlan(key, ready_status(check.problems, ok), questions)
    type_check = check_function_type(world, key)
    item = type_check.item
    ok = f"deployable on {item.region_type}" if item else ""
    return StatusPlan(key, ready_status(type_check.problems, ok), questions)


_UNCHECKED: tuple[tuple[Problem, ...], tuple[AccessQuestion, ...]] = ((), ())


def _gate(
    world: World, options: PlanOptions, namespace: str, account: str, reads: list[Read]
) -> tuple[tuple[Problem, ...], tuple[AccessQuestion, ...]]:
    """Access problems and questions of ``reads`` as ``namespace/account``, if checked at all."""
    if not options.check_access:
        return _UNCHECKED
    return gate(world.value, namespace, account, reads)


def plan_dataflow(
    world: World, key: ObjectKey, options: PlanOptions | None = None
) -> DataFlowPlan | None:
    """The plan of the DataFlow ``key`` in ``world``; None if it is not there."""
    options = options or PlanOptions()
    dataflow = world.value(key)
    if not isinstance(dataflow, DataFlowObject):
        return None
    owner = Owner(key.namespace, key.name, dataflow.uid)
    if dataflow.deleting:
        return _plan_without_objects(key, lifecycle.TERMINATING, "being deleted", dataflow, ())
    if isinstance(dataflow.spec, Invalid):
        problems = tuple(
            Problem(f"DataFlow {key.namespace}/{key.name}: {p}") for p in dataflow.spec.problems
        )
        return _held(world, key, owner, dataflow, problems)
    spec = dataflow.spec
    account = spec.service_account_name or names.DATAFLOW_SERVICE_ACCOUNT
    reads = dataflow_reads(world, key, spec)
    denied, questions = _gate(world, options, key.namespace, account, reads)
    held = Held(account, questions)
    if problem := names.dns1123_subdomain_problem("spec.serviceAccountName", account):
        denied = (Problem(problem), *denied)
    if denied:
        return _held(world, key, owner, dataflow, denied, held)
    return _resolved(world, key, owner, dataflow, spec, options, held)


@attrs.frozen
class Held:
    """What every plan of a DataFlow carries, whatever became of it: who writes, what to ask."""

    account: str = names.DATAFLOW_SERVICE_ACCOUNT
    questions: tuple[AccessQuestion, ...] = ()


def _resolved(
    world: World,
    key: ObjectKey,
    owner: Owner,
    dataflow: DataFlowObject,
    spec: DataFlowSpec,
    options: PlanOptions,
    held: Held,
) -> DataFlowPlan:
    ref = spec.function_chain_ref
    chain = check_chain(world, ObjectKey("FunctionChain", ref.namespace, ref.name))
    where = f"FunctionChain {ref.namespace}/{ref.name}"
    problems = tuple(
        p if p.message.startswith(where) else attrs.evolve(p, message=f"{where}: {p.message}")
        for p in chain.problems
    )
    if problems:
        return _held(world, key, owner, dataflow, problems, held)
    functions, fallbacks, problems = resolve_functions(world, key, spec, chain.nodes)
    if problems:
        return _held(world, key, owner, dataflow, problems, held)
    plan = _deploy(world, key, owner, dataflow, functions, fallbacks, options, held)
    taken, problems = conflicts(world, owner, plan.objects)
    if problems:
        return attrs.evolve(_held(world, key, owner, dataflow, problems, held), conflicts=taken)
    return plan


# --- plans ----------------------------------------------------------------------------------


def _deploy(
    world: World,
    key: ObjectKey,
    owner: Owner,
    dataflow: DataFlowObject,
    functions: list[PlannedFunction],
    fallbacks: tuple[str, ...],
    options: PlanOptions,
    held: Held,
) -> DataFlowPlan:
    destinations = {
        f.node.key: find_destination(
            world, key.namespace, f.service, f.service_kind, f.pod, f.ports
        )
        for f in functions
    }
    identities = tuple(
        obj for f in functions for obj in build_identity(owner, f.node.key, f.pod, f.configmap)
    )
    pods = tuple(
        build_pod(owner, f.node.key, f.pod, f.gpu, f.entry, f.nodes, options) for f in functions
    )
    services = tuple(
        build_service(owner, f.node.key, f.service, f.pod, f.gpu, f.service_kind, f.ports, options)
        for f in functions
        if f.service and f.service_kind
    )
    wirings: dict[str, _Wiring] = {}
    settled: set[str] = set()
    pod_names = {f.node.key: f.pod for f in functions}
    for function in reversed(functions):  # from the end of the chain: make before break
        wiring = _wire(world, key, owner, function, destinations, settled, pod_names)
        wirings[function.node.key] = wiring
        if wiring.loaded and wiring.ready:
            settled.add(function.node.key)
    configmaps = [w.configmap for f in functions if (w := wirings[f.node.key]).configmap]
    connections = [c for f in functions for c in wirings[f.node.key].connections]
    complete = all(not w.pending for w in wirings.values())
    draining = (
        []
        if complete
        else rewiring.leaving(
            world, key, _owned(world, key, owner), (*identities, *pods, *services, *configmaps)
        )
    )
    kept = {k: _kept(stored.body, k) for k in draining if (stored := world.get(k)) is not None}
    identities += tuple(b for k, b in kept.items() if k.kind in IDENTITY_KINDS)
    pods += tuple(b for k, b in kept.items() if k.kind == "Pod")
    services += tuple(b for k, b in kept.items() if k.kind == "Service")
    configmaps += [b for k, b in kept.items() if k.kind == "ConfigMap"]
    plans = tuple(
        FunctionPlan(
            f.node.key,
            f.pod,
            f.service,
            _phase(world, key.namespace, f.pod),
            str(destinations[f.node.key])
            if isinstance(destinations[f.node.key], Destination)
            else "",
        )
        for f in functions
    )
    drains = [
        f"draining Pod {k.name}: it left the chain and is deleted once every hop has loaded its "
        "new next hop"
        for k in draining
        if k.kind == "Pod"
    ]
    state = lifecycle.dataflow_state(
        deleting=False,
        invalid=False,
        waiting=False,
        pods_failed=any(p.phase in _FAILED_PHASES for p in plans),
        connections_stale=any(c.state == lifecycle.STALE for c in connections),
        pods_missing=any(p.phase == "Absent" for p in plans),
        connections_waiting=any(
            c.state in (lifecycle.WAITING, lifecycle.REWIRING) for c in connections
        )
        or bool(drains),
    )
    message = _progress(state, plans, connections, drains)
    status = dataflow_status(
        state=state,
        message=message,
        generation=dataflow.generation,
        problems=(),
        functions=plans,
        connections=tuple(connections),
        fallbacks=fallbacks,
        rewiring=_rewiring_notes(wirings, functions, drains),
    )
    return DataFlowPlan(
        key,
        state,
        message,
        pods,
        services,
        tuple(configmaps),
        plans,
        tuple(connections),
        status,
        identities,
        held.account,
        held.questions,
    )


@attrs.frozen
class _Wiring:
    """One function's ``ethcrl`` ConfigMap (None: not yet), its connections, and whether it
    runs with its final config (``loaded``) or is still to be switched (``pending``), and
    whether its Pod is Ready."""

    configmap: dict[str, Any] | None = attrs.field(hash=False)
    connections: tuple[ConnectionPlan, ...]
    loaded: bool
    pending: bool
    ready: bool
    waiting_for: tuple[str, ...] = ()


def _wire(
    world: World,
    key: ObjectKey,
    owner: Owner,
    function: PlannedFunction,
    destinations: dict[str, Destination | str],
    settled: set[str],
    pod_names: Mapping[str, str],
) -> _Wiring:
    """The wiring of one function; ``settled``: the functions its config may point at now."""
    outputs = function.node.successors
    known = [(c, destinations[c.to.function_key]) for c in outputs]
    missing = [str(dest) for _, dest in known if not isinstance(dest, Destination)]
    name = function.configmap
    published = _published_config(world, key.namespace, name)
    config: str | None
    final: str | None = None
    waiting_for: list[str] = []
    reasons: dict[str, str] = {}
    hop = rewiring.hop_of(world, key.namespace, function.pod)
    if not missing:
        final = connection_config(
            [(c.from_.port, dest) for c, dest in known if isinstance(dest, Destination)]
        )
        waiting_for = [c.to.function_key for c in outputs if c.to.function_key not in settled]
        # Only a running function carries traffic worth keeping on its old route.
        if hop.ready and published is not None and published != final and waiting_for:
            config, state = published, lifecycle.REWIRING
            reasons = {
                k: rewiring.waiting_reason(world, key.namespace, k, pod_names[k])
                for k in waiting_for
            }
            final = None
        else:
            config, state = final, lifecycle.PUBLISHED
            waiting_for = []
        reason = ""
    else:
        config = published
        state = lifecycle.WAITING if config is None else lifecycle.STALE
        reason = summarize(missing)
        if config is not None:
            reason += "; keeping the last published address"
    connections = tuple(
        ConnectionPlan(
            c.from_.function_key,
            c.from_.port,
            c.to.function_key,
            c.to.port,
            state,
            str(dest) if isinstance(dest, Destination) and state == lifecycle.PUBLISHED else "",
            reasons.get(c.to.function_key, reason or _HELD)
            if state == lifecycle.REWIRING
            else reason,
            function.entry.tx_protocol,
        )
        for c, dest in known
    )
    loaded = final is not None and rewiring.has_loaded(hop, final, published)
    pending = state == lifecycle.REWIRING or (final is not None and not loaded and hop.ready)
    configmap = (
        None if config is None else connection_configmap(owner, function.node.key, name, config)
    )
    return _Wiring(configmap, connections, loaded, pending, hop.ready, tuple(waiting_for))


def _owned(world: World, key: ObjectKey, owner: Owner) -> list[ObjectKey]:
    return [
        k
        for k in sorted(world.inventory_of(key))
        if (stored := world.get(k)) is not None and owned_by(stored.body, owner)
    ]


def _rewiring_notes(
    wirings: Mapping[str, _Wiring], functions: list[PlannedFunction], drains: list[str]
) -> tuple[str, ...]:
    """What the ``Rewired`` condition says while a change of the chain is being made."""
    notes = []
    for function in functions:
        wiring = wirings[function.node.key]
        held = [c.reason for c in wiring.connections if c.state == lifecycle.REWIRING]
        if held:
            notes.extend(held)
        elif wiring.pending:
            notes.append(f"Rewiring: waiting for {function.node.key} to load its next hop")
    return tuple(dict.fromkeys([*notes, *drains]))


def _published_config(world: World, namespace: str, name: str) -> str | None:
    stored = world.get(ObjectKey("ConfigMap", namespace, name))
    data = stored.body.get("data") if stored else None
    config = data.get("config") if isinstance(data, dict) else None
    return config if isinstance(config, str) else None


def _phase(world: World, namespace: str, pod: str) -> str:
    facts = world.value(ObjectKey("Pod", namespace, pod))
    return facts.phase if isinstance(facts, PodFacts) else "Absent"


def _progress(
    state: str,
    functions: tuple[FunctionPlan, ...],
    connections: list[ConnectionPlan],
    drains: list[str],
) -> str:
    published = sum(c.state == lifecycle.PUBLISHED for c in connections)
    counts = (
        f"{sum(f.phase != 'Absent' for f in functions)}/{len(functions)} Pods, "
        f"{published}/{len(connections)} connections published"
    )
    if state == lifecycle.DEPLOYED:
        return counts
    problems = [f"Pod {f.pod} is {f.phase}" for f in functions if f.phase in _FAILED_PHASES]
    problems += [f"{c.subject}: {c.reason}" for c in connections if c.state != lifecycle.PUBLISHED]
    problems += [f"Pod {f.pod} not observed yet" for f in functions if f.phase == "Absent"]
    problems += drains
    return f"{counts}; {summarize(problems)}"


def _held(
    world: World,
    key: ObjectKey,
    owner: Owner,
    dataflow: DataFlowObject,
    problems: tuple[Problem, ...],
    held: Held | None = None,
) -> DataFlowPlan:
    """A plan that keeps what the DataFlow owns, unchanged, while ``problems`` stand."""
    held = held or Held()
    invalid = any(not p.waiting for p in problems)
    state = lifecycle.ERROR if invalid else lifecycle.PENDING
    shown = [p.message for p in problems if not p.waiting] if invalid else []
    message = summarize(shown or ["waiting for " + p.message for p in problems], limit=5)
    kept = tuple(
        _kept(stored.body, k) for k in _owned(world, key, owner) if (stored := world.get(k))
    )
    plan = _plan_without_objects(key, state, message, dataflow, problems, kept)
    return attrs.evolve(plan, service_account=held.account, questions=held.questions)


def _kept(body: Mapping[str, Any], key: ObjectKey) -> dict[str, Any]:
    """An observed inventory object as a desired one: our fields only, unchanged."""
    meta = body.get("metadata") or {}
    kept: dict[str, Any] = {
        "apiVersion": body.get("apiVersion", "v1"),
        "kind": key.kind,
        "metadata": {
            field: copy_json(meta[field])
            for field in ("name", "namespace", "labels", "annotations", "ownerReferences")
            if field in meta
        },
    }
    for field in ("spec", "data", "rules", "roleRef", "subjects"):
        if field in body:
            kept[field] = copy_json(body[field])
    return kept


def _plan_without_objects(
    key: ObjectKey,
    state: str,
    message: str,
    dataflow: DataFlowObject,
    problems: tuple[Problem, ...],
    kept: tuple[dict[str, Any], ...] = (),
) -> DataFlowPlan:
    status = dataflow_status(
        state=state,
        message=message,
        generation=dataflow.generation,
        problems=problems,
        functions=(),
        connections=(),
        fallbacks=(),
    )
    pods = tuple(o for o in kept if o["kind"] == "Pod")
    services = tuple(o for o in kept if o["kind"] == "Service")
    configmaps = tuple(o for o in kept if o["kind"] == "ConfigMap")
    identities = tuple(o for o in kept if o["kind"] in IDENTITY_KINDS)
    return DataFlowPlan(key, state, message, pods, services, configmaps, (), (), status, identities)
