"""Building fact events the way Kubernetes would report them, for adapters without an API server.

The local runtime (and tests) play the API server, MetalLB, Multus and the kubelet: after
creating what a plan desires, they report it back with the facts filled in. These functions take
a desired object and return the ``Observed`` event a cluster would send, so that the same core
plans both worlds:

* ``observed_service(desired, cluster_ip=..., ingress_ips=...)``: ``spec.clusterIP`` (and
  ``clusterIPs``), ``status.loadBalancer.ingress[].ip``.
* ``observed_pod(desired, phase=..., vf_ips=...)``: ``status.phase`` and, for SR-IOV, the Multus
  ``k8s.v1.cni.cncf.io/network-status`` annotation listing the VF addresses as PCI devices.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from kasugai.core import names
from kasugai.core.events import Observed
from kasugai.core.inventory import copy_json

__all__ = ["observed_pod", "observed_service"]


def observed_service(
    desired: Mapping[str, Any], *, cluster_ip: str, ingress_ips: Sequence[str] = ()
) -> Observed:
    """The Service as the API server (and MetalLB, for ``ingress_ips``) would report it."""
    body = copy_json(dict(desired))
    body["spec"]["clusterIP"] = cluster_ip
    body["spec"]["clusterIPs"] = [cluster_ip]
    ingress = [{"ip": ip} for ip in ingress_ips]
    body["status"] = {"loadBalancer": {"ingress": ingress} if ingress else {}}
    return Observed.of(body)


def observed_pod(
    desired: Mapping[str, Any],
    *,
    phase: str = "Running",
    pod_ip: str = "",
    vf_ips: Sequence[str] = (),
) -> Observed:
    """The Pod as the kubelet (and Multus, for ``vf_ips``) would report it."""
    body = copy_json(dict(desired))
    body["status"] = {"phase": phase, **({"podIP": pod_ip} if pod_ip else {})}
    if vf_ips:
        meta = body["metadata"]
        network = meta.get("annotations", {}).get(names.MULTUS_NETWORKS_ANNOTATION, "sriov")
        status = [
            {
                "name": f"{meta['namespace']}/{network}",
                "interface": f"net{index + 1}",
                "ips": [ip],
                "mac": f"02:00:00:00:00:{index + 1:02x}",
                "dns": {},
                "device-info": {"type": "pci", "version": "1.1.0"},
            }
            for index, ip in enumerate(vf_ips)
        ]
        annotations = dict(meta.get("annotations") or {})
        annotations[names.NETWORK_STATUS_ANNOTATION] = json.dumps(status)
        meta["annotations"] = annotations
    return Observed.of(body)
