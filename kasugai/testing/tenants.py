"""Make a namespace ready for DataFlows, as ``manifests/tenant`` does for the demo namespaces.

kasugai writes a DataFlow's objects as the namespace's ``kasugai-dataflow`` ServiceAccount; a
namespace without it gets a DataFlow whose every write is refused (which a test may want).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from kubernetes import client

from kasugai.testing.crds import read_kustomization
from kasugai.testing.inputs import apply_objects

__all__ = ["install_tenant", "tenant_objects"]


def tenant_objects(directory: Path, namespace: str) -> list[dict[str, Any]]:
    """The documents of the ``manifests/tenant`` kustomization, placed in ``namespace``."""
    objects = []
    for document in read_kustomization(directory):
        placed = copy.deepcopy(document)
        placed["metadata"]["namespace"] = namespace
        for subject in placed.get("subjects") or []:
            if subject.get("kind") == "ServiceAccount":
                subject.setdefault("namespace", namespace)
        objects.append(placed)
    return objects


def install_tenant(api: client.ApiClient, directory: Path, namespace: str) -> None:
    """Apply the tenant manifests into ``namespace``."""
    apply_objects(api, tenant_objects(directory, namespace))
