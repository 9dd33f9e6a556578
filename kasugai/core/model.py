"""Domain values the planner reads: what users apply, and the facts the cluster reports.

These frozen attrs classes mirror the OpenKasugai inputs (docs/compatibility.md section 1) and
the few observed facts the core needs (Service addresses, Pod phase and VF addresses). They
are built from bodies only in ``kasugai.core.parse``; the planner never reads raw dicts except
the parts it copies through unchanged (Pod template containers and volumes). Field names are
the JSON names in snake case; ``metadata={"json": ...}`` spells out a JSON key that is not
plain camelCase.
The specs of kasugai's own resources are strict (``__kasugai_strict__``: the keys accepted beyond
the fields; any other is an error naming it, with a "did you mean"); the ConfigMap JSON of the
original is read leniently, as the original did (unknown keys ignored).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from kasugai.core.convert import Invalid

__all__ = [
    "ChainFunction",
    "ConfigEntry",
    "Connection",
    "Container",
    "ContainerPort",
    "DataFlowObject",
    "DataFlowSpec",
    "DeployableItem",
    "Endpoint",
    "FunctionChainSpec",
    "FunctionConfig",
    "FunctionInfo",
    "FunctionLimits",
    "FunctionTypeSpec",
    "Inventory",
    "NamespacedRef",
    "PodFacts",
    "PodTemplate",
    "PodTemplateSpec",
    "ServiceFacts",
    "ServicePort",
    "UserRequirement",
]

JSONObject = Mapping[str, Any]


@attrs.frozen
class NamespacedRef:
    __kasugai_strict__ = ()
    name: str
    namespace: str = ""  # empty: the namespace of the object holding the reference


# --- DataFlow -------------------------------------------------------------------------------


@attrs.frozen
class DataFlowSpec:
    # The original's fields kasugai accepts and does not use.
    __kasugai_strict__ = (
        "requirements",
        "functionUserParameter",
        "connectionUserParameter",
        "startPoint",
        "endPoint",
    )
    function_chain_ref: NamespacedRef
    user_requirement: str = ""  # name of a ConfigMap in the DataFlow's namespace
    # The ServiceAccount of the DataFlow's namespace that its objects are written as (empty:
    # names.DATAFLOW_SERVICE_ACCOUNT), so RBAC and Pod Security judge them as the tenant's own.
    service_account_name: str = ""


@attrs.frozen
class DataFlowObject:
    """A DataFlow: the metadata the plan needs, and its spec (or why it is invalid)."""

    uid: str
    generation: int | None
    deleting: bool
    spec: DataFlowSpec | Invalid


# --- FunctionChain --------------------------------------------------------------------------


@attrs.frozen
class Endpoint:
    __kasugai_strict__ = ()
    function_key: str
    port: int = 0


@attrs.frozen
class Connection:
    __kasugai_strict__ = ("customParameter",)
    from_: Endpoint
    to: Endpoint
    connection_type_name: str = "auto"


@attrs.frozen
class ChainFunction:
    __kasugai_strict__ = ("customParameter",)
    function_name: str
    version: str


@attrs.frozen
class FunctionChainSpec:
    __kasugai_strict__ = ()
    functions: Mapping[str, ChainFunction]
    connections: tuple[Connection, ...] = ()
    function_type_namespace: str = ""  # empty: the chain's namespace
    connection_type_namespace: str = ""


# --- FunctionType and its functioninfo ConfigMap --------------------------------------------


@attrs.frozen
class FunctionTypeSpec:
    __kasugai_strict__ = ()
    function_name: str
    version: str
    function_info_cm_ref: NamespacedRef = attrs.field(metadata={"json": "functionInfoCMRef"})


@attrs.frozen
class DeployableItem:
    region_type: str
    config_name: str
    name: str = ""
    input_interface_type: str = ""
    output_interface_type: str = ""
    spec_name: str = ""


@attrs.frozen
class FunctionLimits:
    name: str = ""
    max_input_num: int = 1
    max_output_num: int = 1


@attrs.frozen
class FunctionInfo:
    deployable_items: tuple[DeployableItem, ...]
    specs: tuple[FunctionLimits, ...]


# --- config ConfigMap -----------------------------------------------------------------------


@attrs.frozen
class ContainerPort:
    container_port: int
    protocol: str = "TCP"
    name: str = ""


@attrs.frozen
class Container:
    """A template container: every field kept as written (``body``), plus what we read of it."""

    body: JSONObject = attrs.field(hash=False, metadata={"raw": True})
    name: str = ""
    image: str = ""
    ports: tuple[ContainerPort, ...] = ()


@attrs.frozen
class PodTemplateSpec:
    containers: tuple[Container, ...] = ()
    volumes: tuple[JSONObject, ...] | None = None
    restart_policy: str | None = None
    share_process_namespace: bool | None = None
    host_network: bool | None = None
    host_ipc: bool | None = attrs.field(default=None, metadata={"json": "hostIPC"})


@attrs.frozen
class PodTemplate:
    spec: PodTemplateSpec = PodTemplateSpec()


@attrs.frozen
class ConfigEntry:
    """One way to run a function (an element of a config ConfigMap's JSON array)."""

    rx_protocol: str = ""
    tx_protocol: str = ""
    image_uri: str = attrs.field(default="", metadata={"json": "imageURI"})
    envs: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    annotations: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    labels: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    additional_network: bool = False
    virtual_network_device_driver_type: str = ""
    ipam: tuple[str, ...] = ()
    template: PodTemplate = PodTemplate()


@attrs.frozen
class FunctionConfig:
    """A config ConfigMap: its entries, in data-key order then array order."""

    entries: tuple[ConfigEntry, ...]


@attrs.frozen
class UserRequirement:
    """A user-requirement ConfigMap: function key -> node names it must run on."""

    request_node_names: Mapping[str, tuple[str, ...]] = attrs.field(hash=False)


@attrs.frozen
class Inventory:
    """An object kasugai created (managed-by label): not an input, only a fact."""

    dataflow: str


# --- facts ----------------------------------------------------------------------------------


@attrs.frozen
class ServicePort:
    port: int
    protocol: str = "TCP"
    name: str = ""


@attrs.frozen
class ServiceFacts:
    """What the API server (or the local runtime) reports about a Service."""

    type: str
    cluster_ip: str
    ports: tuple[ServicePort, ...]
    ingress_ips: tuple[str, ...]


@attrs.frozen
class PodFacts:
    """What the kubelet and Multus report about a Pod: its phase and its VF addresses.

    ``vf_ips`` holds the ``ips`` of every network-status entry that is a PCI device (an SR-IOV
    VF); ``network_status_problem`` says why the annotation could not be read, if it could not.
    ``ready``: its ``Ready`` condition (a kubelet that reports no conditions: phase Running).
    ``loaded``: the digest of the connection config its function has loaded, from the
    ``kasugai.io/ConnectionLoaded`` condition; ``""`` nothing loaded yet; None: not reported.
    """

    phase: str
    vf_ips: tuple[str, ...]
    network_status_problem: str = ""
    ready: bool = False
    loaded: str | None = None
