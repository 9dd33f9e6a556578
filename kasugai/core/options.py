"""Site-specific choices the planner needs (resource names, the MetalLB pool), with defaults."""

from __future__ import annotations

import attrs

__all__ = ["PlanOptions"]


@attrs.frozen
class PlanOptions:
    """Options of a plan; the defaults match the OpenKasugai all-in-one demo."""

    load_balancer_pool: str = "cpufunc-pool"
    sriov_resource: str = "nvidia.com/mlnx_sriov_netdevice"
    gpu_resource: str = "nvidia.com/gpu"
    # Follow a reference into another namespace only once the referring namespace's
    # ServiceAccount is known to be allowed to read the target (``access``). The controller
    # turns it on; files and the local runtime have one user and no API server to ask.
    check_access: bool = False
