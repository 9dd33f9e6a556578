"""Play the kubelet, MetalLB and Multus for an API server that has no nodes.

``kasugai.testing``'s API server runs no kubelet, no load-balancer and no CNI: Pods stay
Pending without an address, LoadBalancer Services get no ingress, nobody writes a network
status. ``FakeKubelet`` watches Pods and Services (by default kasugai's, by label) and plays
their parts:

* kubelet: a new Pod becomes ``Running``, with a Pod IP;
* MetalLB: a ``LoadBalancer`` Service gets an ingress IP;
* Multus: a Pod that asks for networks (``k8s.v1.cni.cncf.io/networks``) gets a
  ``k8s.v1.cni.cncf.io/network-status`` annotation with one SR-IOV VF (a ``pci`` device).

Every address comes from a loopback range (``127.1/16`` Pods, ``127.2/16`` load balancers,
``127.3/16`` VFs), so a function that dials one stays on this machine. The module functions
make one such move by hand (move an address, fail a Pod) for tests of what follows. Clusterips
need no help: the API server allocates them.
"""

from __future__ import annotations

import ipaddress
import json
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kasugai.adapters.kube.api import RESOURCES, KubeApi
from kasugai.adapters.kube.observability import Metrics
from kasugai.adapters.kube.watchers import Delivery, Watcher, WatchTimeouts
from kasugai.core import names
from kasugai.core.events import Observed

__all__ = [
    "AddressPool",
    "FakeKubelet",
    "network_status",
    "set_load_balancer_ips",
    "set_network_status",
    "set_pod_status",
]

MERGE_PATCH = "application/merge-patch+json"
DEFAULT_NETWORK = "sriov-ipam-config"
KASUGAI_OBJECTS = f"{names.MANAGED_BY_LABEL}={names.MANAGER}"


class AddressPool:
    """Hands out the host addresses of a network in order; thread-safe."""

    def __init__(self, network: str) -> None:
        self.network = ipaddress.ip_network(network)
        self._hosts: Iterator[Any] = self.network.hosts()
        self._lock = threading.Lock()

    def take(self) -> str:
        with self._lock:
            return str(next(self._hosts))


def _api(api: client.ApiClient | KubeApi) -> KubeApi:
    return api if isinstance(api, KubeApi) else KubeApi(api)


def _patch(
    api: client.ApiClient | KubeApi,
    kind: str,
    namespace: str,
    name: str,
    body: dict[str, Any],
    subresource: str = "",
) -> dict[str, Any]:
    path = RESOURCES[kind].path(namespace, name, subresource)
    return _api(api).request("PATCH", path, body=body, content_type=MERGE_PATCH)


def set_pod_status(
    api: client.ApiClient | KubeApi,
    namespace: str,
    name: str,
    phase: str = "Running",
    pod_ip: str | None = None,
) -> dict[str, Any]:
    """What the kubelet reports: the phase, the Pod IP, and readiness to match."""
    ready = "True" if phase == "Running" else "False"
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": ready}],
    }
    if pod_ip:
        status.update(podIP=pod_ip, podIPs=[{"ip": pod_ip}])
    return _patch(api, "Pod", namespace, name, {"status": status}, "status")


def set_load_balancer_ips(
    api: client.ApiClient | KubeApi, namespace: str, name: str, ips: Sequence[str]
) -> dict[str, Any]:
    """What MetalLB does: the Service's ingress addresses (none: take them away)."""
    body = {"status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}}}
    return _patch(api, "Service", namespace, name, body, "status")


def network_status(namespace: str, vf_ips: Sequence[str], network: str = DEFAULT_NETWORK) -> str:
    """A Multus network-status: the cluster network, then one SR-IOV VF with ``vf_ips``."""
    entries: list[dict[str, Any]] = [
        {
            "name": "kindnet",
            "interface": "eth0",
            "ips": [],
            "mac": "02:00:00:00:00:01",
            "default": True,
            "dns": {},
        },
    ]
    if vf_ips:
        last = int(ipaddress.ip_address(vf_ips[0])) & 0xFFFF
        entries.append(
            {
                "name": f"{namespace}/{network}",
                "interface": "net1",
                "ips": list(vf_ips),
                "mac": f"02:00:00:00:{last >> 8:02x}:{last & 0xFF:02x}",
                "dns": {},
                "device-info": {
                    "type": "pci",
                    "version": "1.1.0",
                    "pci": {"pci-address": f"0000:3b:{last % 32:02x}.{last % 8}"},
                },
            }
        )
    return json.dumps(entries, indent=4)


def set_network_status(
    api: client.ApiClient | KubeApi,
    namespace: str,
    name: str,
    vf_ips: Sequence[str],
    network: str = DEFAULT_NETWORK,
) -> dict[str, Any]:
    """What Multus writes once the Pod's VF is attached."""
    text = network_status(namespace, vf_ips, network)
    body = {"metadata": {"annotations": {names.NETWORK_STATUS_ANNOTATION: text}}}
    return _patch(api, "Pod", namespace, name, body)


class FakeKubelet:
    """Watches Pods and Services in ``namespace`` (None: all) matching ``label_selector`` and
    brings them up as a node, MetalLB and Multus would. Use as a context manager."""

    def __init__(
        self,
        api: client.ApiClient,
        namespace: str | None = None,
        label_selector: str = KASUGAI_OBJECTS,
        *,
        pods: bool = True,
        load_balancers: bool = True,
        networks: bool = True,
    ) -> None:
        self.api = KubeApi(api)
        self.roles = {"pods": pods, "load_balancers": load_balancers, "networks": networks}
        self.pod_ips = AddressPool("127.1.0.0/16")
        self.lb_ips = AddressPool("127.2.0.0/16")
        self.vf_ips = AddressPool("127.3.0.0/16")
        self._done: set[tuple[str, str]] = set()  # (uid, role) handled already
        metrics = Metrics()  # the watchers count into it; nobody reads it
        timeouts = WatchTimeouts(watch=60.0, inactivity=150.0)
        self._watchers = [
            Watcher(
                self.api,
                kind,
                namespace,
                self._deliver,
                metrics,
                label_selector=label_selector,
                timeouts=timeouts,
            )
            for kind in ("Pod", "Service")
        ]
        self.errors: list[str] = []

    def __enter__(self) -> FakeKubelet:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        for watcher in self._watchers:
            watcher.start()

    def stop(self) -> None:
        for watcher in self._watchers:
            watcher.stop()
        for watcher in self._watchers:
            watcher.join(15)

    def _deliver(self, delivery: Delivery) -> None:
        for event in delivery.events:
            if isinstance(event, Observed):
                try:
                    self._handle(event)
                except ApiException as error:
                    if error.status != 404:  # gone meanwhile: nothing to play
                        self.errors.append(f"{event.key}: {error.status} {error.reason}")

    def _handle(self, event: Observed) -> None:
        body = event.body
        meta = body.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            return
        uid = str(meta.get("uid", ""))
        if event.kind == "Pod":
            status = body.get("status") or {}
            if self._first(uid, "pods") and status.get("phase", "Pending") == "Pending":
                set_pod_status(
                    self.api, event.namespace, event.name, "Running", self.pod_ips.take()
                )
            annotations = meta.get("annotations") or {}
            wants_network = names.MULTUS_NETWORKS_ANNOTATION in annotations
            has_status = names.NETWORK_STATUS_ANNOTATION in annotations
            if wants_network and not has_status and self._first(uid, "networks"):
                set_network_status(
                    self.api,
                    event.namespace,
                    event.name,
                    [self.vf_ips.take()],
                    annotations[names.MULTUS_NETWORKS_ANNOTATION],
                )
        elif event.kind == "Service":
            spec, status = body.get("spec") or {}, body.get("status") or {}
            ingress = (status.get("loadBalancer") or {}).get("ingress")
            if (
                spec.get("type") == "LoadBalancer"
                and not ingress
                and self._first(uid, "load_balancers")
            ):
                set_load_balancer_ips(self.api, event.namespace, event.name, [self.lb_ips.take()])

    def _first(self, uid: str, role: str) -> bool:
        """True once per object and role, and only for the roles played."""
        if not self.roles[role] or (uid, role) in self._done:
            return False
        self._done.add((uid, role))
        return True
