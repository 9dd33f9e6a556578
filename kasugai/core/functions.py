"""The functions of one DataFlow: each chain function with its config entry, names and ports.

``resolve_functions`` turns the nodes of a checked FunctionChain into ``PlannedFunction`` values
for one DataFlow: the chosen config entry (``resolve.choose_entry``), the network mode, the Pod,
Service and ConfigMap names (validated against Kubernetes limits, never truncated), the ports,
and the nodes its user-requirement ConfigMap pins it to. Anything wrong is a ``Problem``.
"""

from __future__ import annotations

import attrs

from kasugai.core import names
from kasugai.core.convert import Invalid, shown
from kasugai.core.events import ObjectKey
from kasugai.core.model import ConfigEntry, DataFlowSpec, UserRequirement
from kasugai.core.pods import NETWORK_MODES, container_ports, network_mode
from kasugai.core.resolve import ChainNode, Problem, choose_entry
from kasugai.core.services import service_type
from kasugai.core.world import World

__all__ = ["PlannedFunction", "resolve_functions"]

PROTOCOLS = ("TCP", "UDP", "SCTP")


@attrs.frozen
class PlannedFunction:
    """A chain function resolved for one DataFlow: everything needed to build its objects."""

    node: ChainNode
    entry: ConfigEntry
    gpu: bool
    pod: str
    service: str | None
    service_kind: str | None
    ports: list[tuple[int, str, str]] = attrs.field(hash=False)
    configmap: str
    nodes: tuple[str, ...]


def resolve_functions(
    world: World, key: ObjectKey, spec: DataFlowSpec, nodes: tuple[ChainNode, ...]
) -> tuple[list[PlannedFunction], tuple[str, ...], tuple[Problem, ...]]:
    """The DataFlow's functions, the single-entry fallback notes, and the problems found."""
    problems: list[Problem] = []
    placement = _placement(world, key, spec, problems)
    functions, fallbacks = [], []
    for node in nodes:
        choice = choose_entry(world, key.namespace, node)
        problems.extend(choice.problems)
        if choice.entry is None:
            continue
        if choice.fallback:
            fallbacks.append(choice.fallback)
        function = _function(key, node, choice.entry, placement.get(node.key, ()), problems)
        if function is not None:
            functions.append(function)
    return functions, tuple(fallbacks), tuple(problems)


def _placement(
    world: World, key: ObjectKey, spec: DataFlowSpec, problems: list[Problem]
) -> dict[str, tuple[str, ...]]:
    """Function key -> node names, from the DataFlow's user-requirement ConfigMap."""
    if not spec.user_requirement:
        return {}
    name = f"ConfigMap {key.namespace}/{spec.user_requirement}"
    found = world.value(ObjectKey("ConfigMap", key.namespace, spec.user_requirement))
    if found is None:
        problems.append(Problem(f"spec.userRequirement: {name} not found", True))
    elif isinstance(found, Invalid):
        problems.extend(Problem(f"spec.userRequirement: {name}: {p}") for p in found.problems)
    elif not isinstance(found, UserRequirement):
        problems.append(Problem(f"spec.userRequirement: {name} has no data.requestNodeNames"))
    else:
        return dict(found.request_node_names)
    return {}


def _function(
    key: ObjectKey,
    node: ChainNode,
    entry: ConfigEntry,
    nodes: tuple[str, ...],
    problems: list[Problem],
) -> PlannedFunction | None:
    where = f"function {shown(node.key)}"
    before = len(problems)
    mode = network_mode(entry)
    if mode not in NETWORK_MODES:
        problems.append(
            Problem(
                f"{where}: annotation {names.NETWORK_ANNOTATION}: unknown value "
                f"(expected {', '.join(NETWORK_MODES)})"
            )
        )
    containers = entry.template.spec.containers
    if not containers:
        problems.append(Problem(f"{where}: its config entry's template has no containers"))
    for index, container in enumerate(containers):
        for number, port in enumerate(container.ports):
            field = f"{where}: template.spec.containers[{index}].ports[{number}]"
            if not 1 <= port.container_port <= 65535:
                problems.append(Problem(f"{field}.containerPort: not a port (1 to 65535)"))
            if port.protocol.upper() not in PROTOCOLS:
                protocol = shown(port.protocol)
                problems.append(Problem(f"{field}.protocol: {protocol} is not TCP, UDP or SCTP"))
        if not (container.image or entry.image_uri):
            problems.append(
                Problem(
                    f"{where}: template.spec.containers[{index}].image: missing, and the entry "
                    "has no imageURI"
                )
            )
    gpu = node.type_check.gpu
    instance = names.instance_name(key.name, node.key)
    pod = names.pod_name(instance, gpu)
    kind = service_type(mode, node.first)
    service = names.service_name(instance) if kind else None
    ports = container_ports(entry)
    if kind and not ports:
        problems.append(Problem(f"{where}: its containers declare no containerPort for a Service"))
    configmap = names.connection_configmap_name(pod)
    checks = [
        names.dns1123_subdomain_problem("Pod name", pod),
        names.label_value_problem(f"label {names.FUNC_NAME_LABEL} (the Pod name)", pod),
        names.dns1123_subdomain_problem("ConfigMap name", configmap),
        names.label_value_problem(f"label {names.FUNCTION_KEY_LABEL}", node.key),
        names.label_value_problem(f"label {names.DATAFLOW_LABEL}", key.name),
    ]
    if service:
        checks.append(names.dns1035_label_problem("Service name", service))
    problems.extend(Problem(f"{where}: {message}") for message in checks if message)
    if len(problems) > before:
        return None
    return PlannedFunction(node, entry, gpu, pod, service, kind, ports, configmap, nodes)
