"""Where each function sends its output, and the ``ethcrl.<pod>`` ConfigMap that says so.

The address of a function as a destination comes only from observed facts
(docs/compatibility.md, sections 4 and 6):
its Service's ``spec.clusterIP`` (ClusterIP) or ``status.loadBalancer.ingress[].ip``
(LoadBalancer) with the ports kasugai gives that Service (never a port edited into it by hand),
or for ``sriov`` the VF addresses of its Pod's ``k8s.v1.cni.cncf.io/network-status`` annotation
with the Pod's containerPorts. Never a Pod IP,
never a DNS name. Until an address is known the connection waits and its ConfigMap is not
emitted at all; once a ConfigMap was published, a lost address keeps the last published content
(the connection is Stale) rather than rewiring a running function to nothing.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from kasugai.core.events import ObjectKey
from kasugai.core.inventory import Owner
from kasugai.core.model import PodFacts, ServiceFacts
from kasugai.core.world import World

__all__ = ["Destination", "connection_config", "connection_configmap", "find_destination"]


@attrs.frozen
class Destination:
    """A function's reachable address: IPs and (port, protocol) pairs."""

    ips: tuple[str, ...]
    ports: tuple[tuple[int, str], ...]

    def __str__(self) -> str:
        ports = ",".join(f"{port}/{protocol}" for port, protocol in self.ports)
        return f"{','.join(self.ips)}:{ports}" if ports else ",".join(self.ips)


def find_destination(
    world: World,
    namespace: str,
    service: str | None,
    service_kind: str | None,
    pod: str,
    pod_ports: list[tuple[int, str, str]],
) -> Destination | str:
    """The address of a function, or why it is not known yet."""
    if service is None or service_kind is None:
        facts = world.value(ObjectKey("Pod", namespace, pod))
        if not isinstance(facts, PodFacts):
            return f"Pod {pod} not observed yet"
        if facts.network_status_problem:
            return f"Pod {pod}: {facts.network_status_problem}"
        if not facts.vf_ips:
            return f"Pod {pod} has no SR-IOV VF address in its network-status yet"
        return Destination(facts.vf_ips, tuple((port, proto) for port, proto, _ in pod_ports))
    facts = world.value(ObjectKey("Service", namespace, service))
    if not isinstance(facts, ServiceFacts):
        return f"Service {service} not observed yet"
    if service_kind == "LoadBalancer":
        ips = facts.ingress_ips
        if not ips:
            return f"Service {service} has no load-balancer ingress IP yet"
    else:
        if not facts.cluster_ip:
            return f"Service {service} has no clusterIP yet"
        ips = (facts.cluster_ip,)
    # The ports are those of the Service kasugai wants, not the observed ones: a port edited by
    # hand is put back (docs/architecture.md, Diff), and must never reach a function meanwhile.
    return Destination(
        ips, tuple((port, protocol.upper() or "TCP") for port, protocol, _ in pod_ports)
    )


def connection_config(outputs: list[tuple[int, Destination]]) -> str:
    """``data.config``: ``{}`` for a last function, else the next hop; fan-out adds ``outputs``.

    ``outputs`` is sorted by output port; the top level describes the lowest one. The text is
    exactly ``json.dumps(config, indent=2)`` (a test holds it to that), written out directly
    because the indenting json encoder is pure Python and was a third of the planning time.
    """
    if not outputs:
        return "{}"
    fields = _fields(outputs[0][1], "  ")
    if len(outputs) > 1:
        entries = ",\n".join(
            f"    {json.dumps(str(port))}: {{\n{_fields(dest, '      ')}\n    }}"
            for port, dest in outputs
        )
        fields += f',\n  "outputs": {{\n{entries}\n  }}'
    return f"{{\n{fields}\n}}"


def _fields(dest: Destination, pad: str) -> str:
    """The ``"ips"`` and ``"ports"`` members of a destination, indented by ``pad``."""
    item = pad + "  "
    ips = [f"{item}{json.dumps(ip)}" for ip in dest.ips]
    ports = [
        f'{item}{{\n{item}  "port": {port},\n{item}  "protocol": {json.dumps(protocol)}\n{item}}}'
        for port, protocol in dest.ports
    ]
    return f'{pad}"ips": {_json_list(ips, pad)},\n{pad}"ports": {_json_list(ports, pad)}'


def _json_list(items: list[str], pad: str) -> str:
    if not items:
        return "[]"
    body = ",\n".join(items)
    return f"[\n{body}\n{pad}]"


def connection_configmap(owner: Owner, function_key: str, name: str, config: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": owner.metadata(name, function_key),
        "data": {"config": config},
    }
