"""Facts as Kubernetes would report them, so that the same core plans the local runtime.

The core learns addresses only from observed objects (docs/compatibility.md, sections 4
and 6). Here the runtime plays the API server, kubelet, MetalLB and Multus for its Pods:
  * a Service gets ``spec.clusterIP`` = the address of the Pod it selects (ClusterIP) and, for a
    LoadBalancer, ``status.loadBalancer.ingress[0].ip`` = that address too;
  * a Pod gets ``status.phase`` and ``status.podIP`` from its processes, and, when it asks Multus
    for an SR-IOV network (``k8s.v1.cni.cncf.io/networks``), a ``network-status`` annotation whose
    PCI entry carries its address, as the SR-IOV CNI would report a VF.
The bodies are copies of the desired objects plus these fields; desired objects are never edited.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kasugai.core import names
from kasugai.core.inventory import copy_json

__all__ = ["observed_pod", "observed_service", "selected_pod"]

_FAKE_PCI_ADDRESS = "0000:00:00.0"


def _mac(address: str) -> str:
    """A locally administered MAC derived from the address (stable, unique per Pod)."""
    octets = [int(part) for part in address.split(".")]
    return "02:00:" + ":".join(f"{octet:02x}" for octet in octets)


def _network_status(network: str, namespace: str, address: str) -> str:
    attachment = network if "/" in network else f"{namespace}/{network}"
    return json.dumps(
        [
            {"name": "local-loopback", "interface": "lo", "ips": [address], "default": True},
            {
                "name": attachment,
                "interface": "net1",
                "ips": [address],
                "mac": _mac(address),
                "dns": {},
                "device-info": {
                    "type": "pci",
                    "version": "1.1.0",
                    "pci": {"pci-address": _FAKE_PCI_ADDRESS},
                },
            },
        ],
        indent=2,
    )


def observed_pod(
    desired: Mapping[str, Any], address: str, status: Mapping[str, Any]
) -> dict[str, Any]:
    """The Pod as the API server would return it once the kubelet and Multus reported it."""
    body: dict[str, Any] = copy_json(dict(desired))
    meta = body.setdefault("metadata", {})
    network = (meta.get("annotations") or {}).get(names.MULTUS_NETWORKS_ANNOTATION)
    if network:
        meta["annotations"] = {
            **meta["annotations"],
            names.NETWORK_STATUS_ANNOTATION: _network_status(
                str(network), str(meta.get("namespace", "")), address
            ),
        }
    body["status"] = copy_json(dict(status))
    return body


def selected_pod(service: Mapping[str, Any]) -> str:
    """The name of the Pod a kasugai Service selects (its ``swb/func-name`` selector)."""
    selector = (service.get("spec") or {}).get("selector") or {}
    return str(selector.get(names.FUNC_NAME_LABEL, ""))


def observed_service(desired: Mapping[str, Any], address: str) -> dict[str, Any]:
    """The Service with the address of its Pod as cluster IP (and load-balancer ingress)."""
    body: dict[str, Any] = copy_json(dict(desired))
    spec = body.setdefault("spec", {})
    spec["clusterIP"] = address
    spec["clusterIPs"] = [address]
    if spec.get("type") == "LoadBalancer":
        body["status"] = {"loadBalancer": {"ingress": [{"ip": address}]}}
    return body
