"""Install CustomResourceDefinitions from a kustomization folder, and wait until they serve.

The folder's ``kustomization.yaml`` says which files count, as it does for ``kubectl apply -k``.
A CRD's objects can be created only once the apiserver marks it Established; before that the
apiserver answers 404, so installing waits for the condition.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

FIELD_MANAGER = "kasugai-testing"


def read_kustomization(directory: Path) -> list[dict[str, Any]]:
    """Every document of every resource listed in ``directory/kustomization.yaml``, in order."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    documents: list[dict[str, Any]] = []
    for resource in kustomization.get("resources", []):
        with (directory / resource).open() as stream:
            documents.extend(doc for doc in yaml.safe_load_all(stream) if doc)
    return documents


def install_crds(api: client.ApiClient, directory: Path, timeout: float = 60.0) -> list[str]:
    """Server-side apply the CRDs of a kustomization folder; return their names once every one
    is Established. Anything but a CRD in the folder is an error (this installs CRDs only)."""
    extensions = client.ApiextensionsV1Api(api)
    names: list[str] = []
    for document in read_kustomization(directory):
        if document.get("kind") != "CustomResourceDefinition":
            raise ValueError(
                f"{directory}: {document.get('kind')} {document.get('metadata', {}).get('name')}"
                " is not a CustomResourceDefinition"
            )
        name = document["metadata"]["name"]
        extensions.patch_custom_resource_definition(
            name,
            document,
            field_manager=FIELD_MANAGER,
            force=True,
            _content_type="application/apply-patch+yaml",
        )
        names.append(name)
    deadline = time.monotonic() + timeout
    waiting = list(names)
    while waiting:
        waiting = [name for name in waiting if not _established(extensions, name)]
        if waiting and time.monotonic() > deadline:
            raise TimeoutError(f"CRDs not Established after {timeout:.0f} s: {', '.join(waiting)}")
        if waiting:
            time.sleep(0.2)
    return names


def _established(extensions: client.ApiextensionsV1Api, name: str) -> bool:
    crd = extensions.read_custom_resource_definition(name)
    conditions = (crd.status.conditions if crd.status else None) or []
    return any(c.type == "Established" and c.status == "True" for c in conditions)
