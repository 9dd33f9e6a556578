"""The Service of one function (docs/compatibility.md section 3).

``sriov`` functions get none (traffic goes to the VF address). The first function of a DataFlow
is the entry point: a LoadBalancer from the MetalLB pool. Others follow their network
annotation. Ports: one per containerPort, named (kasugai) so that multi-port functions work: the
containerPort's own name, else ``<protocol>-<port>``.
"""

from __future__ import annotations

from typing import Any

from kasugai.core import names
from kasugai.core.inventory import Owner
from kasugai.core.options import PlanOptions

__all__ = ["build_service", "service_type"]


def service_type(mode: str, first: bool) -> str | None:
    """``LoadBalancer``, ``ClusterIP`` or None (no Service) for a function's network mode."""
    if mode == "sriov":
        return None
    return "LoadBalancer" if first or mode == "loadbalancer" else "ClusterIP"


def build_service(
    owner: Owner,
    function_key: str,
    service: str,
    pod: str,
    gpu: bool,
    kind: str,
    ports: list[tuple[int, str, str]],
    options: PlanOptions,
) -> dict[str, Any]:
    annotations = (
        {names.METALLB_POOL_ANNOTATION: options.load_balancer_pool}
        if kind == "LoadBalancer"
        else {}
    )
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": owner.metadata(service, function_key, annotations=annotations),
        "spec": {
            "type": kind,
            "selector": {
                names.FUNC_TYPE_LABEL: "gpufunc" if gpu else "cpufunc",
                names.FUNC_NAME_LABEL: pod,
            },
            "ports": [
                {
                    "name": name or f"{protocol.lower()}-{port}",
                    "port": port,
                    "targetPort": port,
                    "protocol": protocol,
                }
                for port, protocol, name in ports
            ],
        },
    }
