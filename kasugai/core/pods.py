"""The Pod of one function (docs/compatibility.md section 3), from its config entry's template.

Containers keep every field of the template (kasugai; the original dropped env, probes and more),
are renamed ``cpu-container<i>`` / ``gpu-container<i>``, and get the entry's ``envs`` plus
``K8S_POD_NAME`` / ``K8S_POD_NAMESPACE`` from the downward API. A container whose template name
contains ``sidecar`` is the reload sidecar: it gets no SR-IOV VF and no GPU. Extended resources
are written as strings ("1"), the form the API server returns, so that a diff stays empty.

Every Pod advertises its function's Prometheus endpoint (``/metrics`` on 9464, the default of
every kasugai function program) with the usual ``prometheus.io/*`` annotations, unless the entry
sets ``prometheus.io/scrape`` itself: the user's word wins, e.g. ``"false"``.

Pods share the nested template values they copy through (commands, mounts, volumes...) with the
World and with each other: copying them per Pod was most of the planning time. Desired objects
are read-only, like event bodies.
"""

from __future__ import annotations

from typing import Any

from kasugai.core import names
from kasugai.core.inventory import Owner
from kasugai.core.model import ConfigEntry, Container
from kasugai.core.options import PlanOptions

__all__ = ["METRICS_PORT", "SCRAPE_ANNOTATION", "build_pod", "is_sriov", "network_mode"]

NETWORK_MODES = ("clusterip", "loadbalancer", "sriov")
METRICS_PORT = 9464  # the function programs' default --metrics-port
SCRAPE_ANNOTATION = "prometheus.io/scrape"
_SCRAPE_ANNOTATIONS = {
    SCRAPE_ANNOTATION: "true",
    "prometheus.io/port": str(METRICS_PORT),
    "prometheus.io/path": "/metrics",
}


def is_sriov(entry: ConfigEntry) -> bool:
    return (
        entry.additional_network
        and entry.virtual_network_device_driver_type.lower() == "sriov"
        and bool(entry.ipam)
    )


def network_mode(entry: ConfigEntry) -> str:
    """``clusterip``, ``loadbalancer``, ``sriov`` or (unknown) the value as written.

    kasugai: no network annotation means ``clusterip`` (the original skipped the function).
    """
    if is_sriov(entry):
        return "sriov"
    return entry.annotations.get(names.NETWORK_ANNOTATION, "clusterip").strip().lower()


def _is_sidecar(container: Container) -> bool:
    return "sidecar" in container.name.lower()


_DOWNWARD_API: tuple[dict[str, Any], ...] = tuple(
    {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}
    for name, path in (
        ("K8S_POD_NAME", "metadata.name"),
        ("K8S_POD_NAMESPACE", "metadata.namespace"),
    )
)


def _env(container: Container, added: list[dict[str, Any]]) -> list[Any]:
    """Template env first, then ``added`` (entry envs, downward API); later names win."""
    merged: dict[str, Any] = {}
    for item in container.body.get("env") or []:
        if isinstance(item, dict) and "name" in item:
            merged[str(item["name"])] = item
    for item in added:
        merged[item["name"]] = item
    return list(merged.values())


def _asks_for_gpu(containers: tuple[Container, ...], options: PlanOptions) -> bool:
    for container in containers:
        resources = container.body.get("resources") or {}
        for part in ("requests", "limits"):
            for resource in resources.get(part) or {}:
                if resource == options.gpu_resource or str(resource).endswith("/gpu"):
                    return True
    return False


def _add_resource(body: dict[str, Any], resource: str) -> None:
    """Request and limit one ``resource``, copying (not editing) the shared template dicts."""
    resources = dict(body.get("resources") or {})
    for part in ("requests", "limits"):
        resources[part] = {**(resources.get(part) or {}), resource: "1"}
    body["resources"] = resources


def build_pod(
    owner: Owner,
    function_key: str,
    pod: str,
    gpu: bool,
    entry: ConfigEntry,
    nodes: tuple[str, ...],
    options: PlanOptions,
) -> dict[str, Any]:
    template = entry.template.spec
    prefix = "gpu" if gpu else "cpu"
    sriov = is_sriov(entry)
    wants_gpu = gpu and not _asks_for_gpu(template.containers, options)
    added: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in entry.envs.items()]
    added += _DOWNWARD_API
    containers = []
    for index, container in enumerate(template.containers):
        body = dict(container.body)
        body["name"] = f"{prefix}-container{index}"
        body["image"] = container.image or entry.image_uri
        body.setdefault("imagePullPolicy", "IfNotPresent")
        body["env"] = _env(container, added)
        if sriov and not _is_sidecar(container):
            _add_resource(body, options.sriov_resource)
        if wants_gpu and not _is_sidecar(container):
            _add_resource(body, options.gpu_resource)
            wants_gpu = False  # one GPU per Pod, on its first application container
        containers.append(body)
    # The Pod's own account (``identity``): it may read its connection ConfigMap, nothing else.
    spec: dict[str, Any] = {"serviceAccountName": pod, "containers": containers}
    optional = (
        ("volumes", None if template.volumes is None else list(template.volumes)),
        ("restartPolicy", template.restart_policy),
        ("shareProcessNamespace", template.share_process_namespace),
        ("hostNetwork", template.host_network),
        ("hostIPC", template.host_ipc),
    )
    spec.update((field, value) for field, value in optional if value is not None)
    if nodes:
        spec["affinity"] = _node_affinity(nodes)
    annotations = dict(entry.annotations)
    if SCRAPE_ANNOTATION not in annotations:  # an entry's own port or path is kept
        annotations = {**_SCRAPE_ANNOTATIONS, **annotations}
    if sriov:
        annotations[names.MULTUS_NETWORKS_ANNOTATION] = entry.ipam[0]
        annotations[names.NETWORK_ANNOTATION] = "sriov"
    labels = {
        **entry.labels,
        names.FUNC_TYPE_LABEL: "gpufunc" if gpu else "cpufunc",
        names.FUNC_NAME_LABEL: pod,
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": owner.metadata(pod, function_key, labels, annotations),
        "spec": spec,
    }


def _node_affinity(nodes: tuple[str, ...]) -> dict[str, Any]:
    """userRequirement -> required node affinity on the node's hostname label."""
    expression = {"key": "kubernetes.io/hostname", "operator": "In", "values": list(nodes)}
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [expression]}]
            }
        }
    }


def container_ports(entry: ConfigEntry) -> list[tuple[int, str, str]]:
    """(port, protocol, name) of every containerPort, first occurrence of a port/protocol wins."""
    found: dict[tuple[int, str], str] = {}
    for container in entry.template.spec.containers:
        for port in container.ports:
            found.setdefault((port.container_port, port.protocol.upper() or "TCP"), port.name)
    return [(port, protocol, name) for (port, protocol), name in found.items()]
