"""Names users type (docs/compatibility.md section 2), kasugai's labels, Kubernetes name rules.

Names are never truncated: a name over a Kubernetes limit is reported (with its length and the
limit) so that the DataFlow shows an Error instead of a write the API server would reject.
"""

from __future__ import annotations

import re

from kasugai.core.convert import shown

__all__ = [
    "API_VERSION",
    "CONNECTION_LOADED_CONDITION",
    "DATAFLOW_LABEL",
    "DATAFLOW_SERVICE_ACCOUNT",
    "END_OF_CHAIN",
    "FUNCTION_KEY_LABEL",
    "FUNC_NAME_LABEL",
    "FUNC_TYPE_LABEL",
    "MANAGED_BY_LABEL",
    "MANAGER",
    "METALLB_POOL_ANNOTATION",
    "MULTUS_NETWORKS_ANNOTATION",
    "NETWORK_ANNOTATION",
    "NETWORK_STATUS_ANNOTATION",
    "RESERVED_KEYS",
    "SEPARATOR_WORD",
    "START_OF_CHAIN",
    "connection_configmap_name",
    "dns1035_label_problem",
    "dns1123_subdomain_problem",
    "instance_name",
    "label_value_problem",
    "pod_name",
    "service_name",
]

API_VERSION = "example.com/v1"  # DataFlow, FunctionChain, FunctionType

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGER = "kasugai"
DATAFLOW_LABEL = "kasugai.io/dataflow"
FUNCTION_KEY_LABEL = "kasugai.io/function-key"
FUNC_TYPE_LABEL = "swb/func-type"
FUNC_NAME_LABEL = "swb/func-name"

NETWORK_ANNOTATION = "ethernet.swb.example.com/network"
MULTUS_NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks"
NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status"
METALLB_POOL_ANNOTATION = "metallb.universe.tf/address-pool"
# A Pod condition (a readiness-gate style type): True with the digest of the connection config
# its function loaded as message (``rewiring.config_digest``). Reported by the local runtime.
CONNECTION_LOADED_CONDITION = "kasugai.io/ConnectionLoaded"

# Object names join the DataFlow name and the function key with "-wbfunction-". A key without
# "wbfunction" in it makes that split unique (the separator's only self-overlap is its "-"), so
# no two (DataFlow, key) pairs of a namespace can name the same object.
SEPARATOR_WORD = "wbfunction"
# The account a DataFlow's workload objects are written as, unless its spec names another.
DATAFLOW_SERVICE_ACCOUNT = "kasugai-dataflow"

START_OF_CHAIN = "wb-start-of-chain"
END_OF_CHAIN = "wb-end-of-chain"
RESERVED_KEYS = frozenset({START_OF_CHAIN, END_OF_CHAIN})


def instance_name(dataflow: str, function_key: str) -> str:
    return f"{dataflow}-wbfunction-{function_key}"


def pod_name(instance: str, gpu: bool) -> str:
    return f"{instance}-gpu-pod" if gpu else f"{instance}-cpu-pod"


def service_name(instance: str) -> str:
    return f"{instance}-service"


def connection_configmap_name(pod: str) -> str:
    return f"ethcrl.{pod}"


_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = re.compile(rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


def _problem(what: str, value: str, limit: int, pattern: re.Pattern[str], rule: str) -> str | None:
    """Why ``value`` is too long (over ``limit``) or does not match ``pattern``, or None."""
    if len(value) > limit:
        return (
            f"{what} {shown(value, 253)} is {len(value)} characters long; "
            f"Kubernetes allows at most {limit} (shorten the DataFlow name or the function key)"
        )
    return None if pattern.fullmatch(value) else f"{what} {shown(value, 253)} is not a valid {rule}"


def dns1123_subdomain_problem(what: str, value: str) -> str | None:
    """Why ``value`` cannot name a Pod or ConfigMap, or None."""
    rule = (
        "name (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit)"
    )
    return _problem(what, value, 253, _DNS1123_SUBDOMAIN, rule)


def dns1035_label_problem(what: str, value: str) -> str | None:
    """Why ``value`` cannot name a Service, or None."""
    rule = "name (lower-case letters, digits and '-', starting with a letter)"
    return _problem(what, value, 63, _DNS1035_LABEL, rule)


def label_value_problem(what: str, value: str) -> str | None:
    """Why ``value`` cannot be a label value, or None."""
    rule = "label value (letters, digits, '-', '_' and '.')"
    return _problem(what, value, 63, _LABEL_VALUE, rule)
