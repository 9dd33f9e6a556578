"""Bodies -> domain values, once per event (at fold time), so that planning never re-parses.

Each kind has one parser. ConfigMaps play several roles; the role is read from the data keys:
``deployableItems`` makes a functioninfo, ``requestNodeNames`` a user requirement, the
``app.kubernetes.io/managed-by: kasugai`` label one of our own outputs, and anything else is read
as a config ConfigMap (every data value a JSON array of entries). An unreadable input becomes an
``Invalid`` value whose messages name the field; it only matters if something refers to it.

Texts inside bodies (ConfigMap data, the network-status annotation) are parsed within the
limits of ``kasugai.core.bounded``, and a parser that fails anyway (a bug) turns that one object
into an ``Invalid`` saying so, reported through ``kasugai.core.faults``: one object never stops
the others.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from kasugai.core import bounded, faults, names
from kasugai.core.access import ACCESS_KIND, AccessAnswer, parse_access
from kasugai.core.convert import JSON_OBJECT, Invalid, json_type, structure
from kasugai.core.model import (
    ConfigEntry,
    DataFlowObject,
    DataFlowSpec,
    DeployableItem,
    FunctionChainSpec,
    FunctionConfig,
    FunctionInfo,
    FunctionLimits,
    FunctionTypeSpec,
    Inventory,
    NamespacedRef,
    PodFacts,
    ServiceFacts,
    ServicePort,
    UserRequirement,
)

__all__ = ["Parsed", "parse_body"]

Parsed = (
    DataFlowObject
    | FunctionChainSpec
    | FunctionTypeSpec
    | FunctionInfo
    | FunctionConfig
    | UserRequirement
    | Inventory
    | ServiceFacts
    | PodFacts
    | AccessAnswer
    | Invalid
    | None
)


def parse_body(kind: str, namespace: str, body: Mapping[str, Any]) -> Parsed:
    """The domain value a body holds; None for kinds the planner does not read.

    Never raises: an error inside a parser makes this object ``Invalid`` (a DataFlow keeps its
    place, with an invalid spec, so that what runs for it is kept) and is reported as a fault.
    """
    parser = _PARSERS.get(kind)
    if parser is None:
        return None
    try:
        return parser(namespace, body)
    except Exception as error:  # a bug must cost one object, not the loop that folds them all
        faults.survived(f"reading a {kind} in namespace {namespace or '(none)'}", error)
        invalid = Invalid(
            (
                f"kasugai could not read this {kind}: an internal error ({type(error).__name__}), "
                "logged by kasugai; please report it",
            )
        )
        return _unreadable_dataflow(body, invalid) if kind == "DataFlow" else invalid


def _unreadable_dataflow(body: Mapping[str, Any], invalid: Invalid) -> DataFlowObject:
    try:
        meta = _mapping(body.get("metadata"))
        uid, generation = meta.get("uid"), meta.get("generation")
        deleting = bool(meta.get("deletionTimestamp"))
    except Exception:  # the fault is reported already; what matters now is to hold the DataFlow
        meta, uid, generation, deleting = {}, "", None, False
    return DataFlowObject(
        uid=uid if isinstance(uid, str) else "",
        generation=generation if type(generation) is int else None,
        deleting=deleting,
        spec=invalid,
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, JSON_OBJECT) else {}


def _parse_dataflow(namespace: str, body: Mapping[str, Any]) -> DataFlowObject:
    meta = _mapping(body.get("metadata"))
    generation = meta.get("generation")
    spec = structure(body.get("spec"), DataFlowSpec, "spec")
    if isinstance(spec, DataFlowSpec) and not spec.function_chain_ref.namespace:
        spec = attrs.evolve(
            spec, function_chain_ref=attrs.evolve(spec.function_chain_ref, namespace=namespace)
        )
    return DataFlowObject(
        uid=str(meta.get("uid") or ""),
        generation=generation if isinstance(generation, int) else None,
        deleting=bool(meta.get("deletionTimestamp")),
        spec=spec,
    )


def _parse_function_chain(namespace: str, body: Mapping[str, Any]) -> FunctionChainSpec | Invalid:
    spec = structure(body.get("spec"), FunctionChainSpec, "spec")
    if isinstance(spec, FunctionChainSpec) and not spec.function_type_namespace:
        spec = attrs.evolve(spec, function_type_namespace=namespace)
    return spec


def _parse_function_type(namespace: str, body: Mapping[str, Any]) -> FunctionTypeSpec | Invalid:
    spec = structure(body.get("spec"), FunctionTypeSpec, "spec")
    if isinstance(spec, FunctionTypeSpec) and not spec.function_info_cm_ref.namespace:
        ref = NamespacedRef(spec.function_info_cm_ref.name, namespace)
        spec = attrs.evolve(spec, function_info_cm_ref=ref)
    return spec


def _parse_configmap(namespace: str, body: Mapping[str, Any]) -> Parsed:
    labels = _mapping(_mapping(body.get("metadata")).get("labels"))
    data = _mapping(body.get("data"))
    if labels.get(names.MANAGED_BY_LABEL) == names.MANAGER:
        return Inventory(str(labels.get(names.DATAFLOW_LABEL, "")))
    if "deployableItems" in data:
        return _parse_function_info(data)
    if "requestNodeNames" in data:
        return _parse_user_requirement(data)
    return _parse_function_config(data)


def _json_data(data: Mapping[str, Any], key: str) -> Any:
    """The JSON a data key holds, or an Invalid naming the key and the syntax error or limit."""
    text = data.get(key)
    if not isinstance(text, str):
        return Invalid((f"data[{key}]: expected a JSON string, got {json_type(text)}",))
    try:
        return bounded.load_json(text, bounded.VALUE)
    except bounded.ParseError as exc:
        return Invalid((f"data[{key}]: {exc}",))


def _parse_function_info(data: Mapping[str, Any]) -> FunctionInfo | Invalid:
    items = _json_data(data, "deployableItems")
    if not isinstance(items, Invalid):
        items = structure(items, tuple[DeployableItem, ...], "data[deployableItems]")
    specs: Any = ()
    if "spec" in data:
        specs = _json_data(data, "spec")
        if not isinstance(specs, Invalid):
            specs = structure(specs, tuple[FunctionLimits, ...], "data[spec]")
    problems = [p for part in (items, specs) if isinstance(part, Invalid) for p in part.problems]
    if problems:
        return Invalid(tuple(problems))
    return FunctionInfo(items, specs)


def _parse_function_config(data: Mapping[str, Any]) -> FunctionConfig | Invalid:
    entries: list[ConfigEntry] = []
    problems: list[str] = []
    for key in sorted(data):
        value = _json_data(data, key)
        if not isinstance(value, Invalid):
            value = structure(value, tuple[ConfigEntry, ...], f"data[{key}]")
        if isinstance(value, Invalid):
            problems.extend(value.problems)
        else:
            entries.extend(value)
    return Invalid(tuple(problems)) if problems else FunctionConfig(tuple(entries))


def _parse_user_requirement(data: Mapping[str, Any]) -> UserRequirement | Invalid:
    text = data["requestNodeNames"]
    if not isinstance(text, str):
        return Invalid((f"data[requestNodeNames]: expected a YAML string, got {json_type(text)}",))
    try:
        value = bounded.load_yaml(text, bounded.VALUE)
    except bounded.ParseError as exc:
        return Invalid((f"data[requestNodeNames]: {exc}",))
    if value is None:
        value = {}
    nodes = structure(value, dict[str, tuple[str, ...]], "data[requestNodeNames]")
    return nodes if isinstance(nodes, Invalid) else UserRequirement(nodes)


def _parse_service(namespace: str, body: Mapping[str, Any]) -> ServiceFacts:
    spec = _mapping(body.get("spec"))
    ports = structure(spec.get("ports") or [], tuple[ServicePort, ...])
    ingress = _mapping(_mapping(body.get("status")).get("loadBalancer")).get("ingress")
    ips = tuple(
        str(entry["ip"])
        for entry in (ingress if isinstance(ingress, list) else [])
        if isinstance(entry, JSON_OBJECT) and entry.get("ip")
    )
    cluster_ip = spec.get("clusterIP")
    return ServiceFacts(
        type=str(spec.get("type") or "ClusterIP"),
        cluster_ip=cluster_ip if isinstance(cluster_ip, str) and cluster_ip != "None" else "",
        ports=() if isinstance(ports, Invalid) else ports,
        ingress_ips=ips,
    )


def _parse_pod(namespace: str, body: Mapping[str, Any]) -> PodFacts:
    return attrs.evolve(_pod_network(body), **_pod_readiness(_mapping(body.get("status"))))


def _pod_readiness(status: Mapping[str, Any]) -> dict[str, Any]:
    """``ready`` and ``loaded`` of a Pod status (see ``PodFacts``)."""
    conditions = status.get("conditions")
    found = {
        str(c.get("type")): c
        for c in (conditions if isinstance(conditions, list) else [])
        if isinstance(c, JSON_OBJECT)
    }
    ready_condition = found.get("Ready")
    if ready_condition is None:
        ready = status.get("phase") == "Running"
    else:
        ready = ready_condition.get("status") == "True"
    loaded_condition = found.get(names.CONNECTION_LOADED_CONDITION)
    loaded = None
    if loaded_condition is not None:
        message = loaded_condition.get("message")
        is_loaded = loaded_condition.get("status") == "True" and isinstance(message, str)
        loaded = str(message) if is_loaded else ""
    return {"ready": ready, "loaded": loaded}


def _pod_network(body: Mapping[str, Any]) -> PodFacts:
    phase = str(_mapping(body.get("status")).get("phase") or "Pending")
    annotations = _mapping(_mapping(body.get("metadata")).get("annotations"))
    text = annotations.get(names.NETWORK_STATUS_ANNOTATION)
    if text is None:
        return PodFacts(phase, ())
    if not isinstance(text, str):
        problem = (
            f"{names.NETWORK_STATUS_ANNOTATION}: expected a JSON string, got {json_type(text)}"
        )
        return PodFacts(phase, (), problem)
    try:
        entries = bounded.load_json(text, bounded.VALUE)
    except bounded.ParseError as exc:
        return PodFacts(phase, (), f"{names.NETWORK_STATUS_ANNOTATION}: {exc}")
    if not isinstance(entries, list):
        return PodFacts(phase, (), f"{names.NETWORK_STATUS_ANNOTATION} is not a JSON list")
    return PodFacts(phase, tuple(ip for entry in entries for ip in _vf_ips(entry)))


def _vf_ips(entry: Any) -> list[str]:
    """The ``ips`` of a network-status entry if it describes a PCI device (an SR-IOV VF)."""
    if not isinstance(entry, JSON_OBJECT) or not entry.get("interface") or not entry.get("mac"):
        return []
    if _mapping(entry.get("device-info")).get("type") != "pci":
        return []
    ips = entry.get("ips")
    return [str(ip) for ip in ips] if isinstance(ips, list) else []


_PARSERS: dict[str, Callable[[str, Mapping[str, Any]], Parsed]] = {
    "DataFlow": _parse_dataflow,
    "FunctionChain": _parse_function_chain,
    "FunctionType": _parse_function_type,
    "ConfigMap": _parse_configmap,
    "Service": _parse_service,
    "Pod": _parse_pod,
    ACCESS_KIND: lambda _, body: parse_access(body),
}
