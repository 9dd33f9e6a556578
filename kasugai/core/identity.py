"""The identity of one function Pod: a ServiceAccount that may read its own connection ConfigMap
and report, on its own Pod's status, which connection config its function loaded.

The sidecar watches ``ethcrl.<pod>`` through the API. Rather than let a namespace-wide account
read every ConfigMap of the namespace (the original bound the cluster-wide ``view`` role), each
function Pod runs as a ServiceAccount of its own, named like the Pod, bound to a Role that allows
``get``, ``list`` and ``watch`` of that one ConfigMap (``resourceNames``; a list or watch is
allowed only with a ``metadata.name`` field selector naming it), and ``patch`` of that one Pod's
``pods/status`` (the ``kasugai.io/ConnectionLoaded`` condition, see ``rewiring``). All three
objects are owned by the DataFlow like the Pod, and written as the DataFlow's ServiceAccount,
which may grant no more than it holds.
"""

from __future__ import annotations

from typing import Any

from kasugai.core.inventory import Owner

__all__ = ["IDENTITY_KINDS", "build_identity"]

RBAC = "rbac.authorization.k8s.io"
IDENTITY_KINDS = ("ServiceAccount", "Role", "RoleBinding")


def build_identity(
    owner: Owner, function_key: str, pod: str, configmap: str
) -> tuple[dict[str, Any], ...]:
    """ServiceAccount, Role and RoleBinding ``<pod>`` for the Pod ``pod``."""
    meta = owner.metadata(pod, function_key)  # the same for all three (objects are read-only)
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta,
    }
    role = {
        "apiVersion": f"{RBAC}/v1",
        "kind": "Role",
        "metadata": meta,
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["configmaps"],
                "resourceNames": [configmap],
                "verbs": ["get", "list", "watch"],
            },
            {
                "apiGroups": [""],
                "resources": ["pods/status"],
                "resourceNames": [pod],
                "verbs": ["patch"],
            },
        ],
    }
    binding = {
        "apiVersion": f"{RBAC}/v1",
        "kind": "RoleBinding",
        "metadata": meta,
        "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": pod},
        "subjects": [{"kind": "ServiceAccount", "name": pod, "namespace": owner.namespace}],
    }
    return account, role, binding
