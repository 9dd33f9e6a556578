"""Inputs for tests: sample chains moved into a namespace of their own, and many DataFlows.

The OpenKasugai samples name their namespaces (``cpufunc-calcapp``, configs in ``default``).
``relocated`` moves every object, and every reference between them, into one namespace, so that
tests can each run the same sample side by side (the planner finds configs in the DataFlow's
namespace first). ``apply_objects`` writes them as a user would (Server-Side Apply with the
field manager ``kasugai-test``, not the controller's).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from kubernetes import client

from kasugai.adapters.files import load_objects
from kasugai.adapters.kube.api import KubeApi
from kasugai.core.inventory import copy_json

__all__ = ["USER_FIELD_MANAGER", "apply_objects", "dataflow_copies", "load", "relocated"]

USER_FIELD_MANAGER = "kasugai-test"


def load(*paths: str | Path) -> list[dict[str, Any]]:
    """Every object of the files and directories, as plain dicts (copies)."""
    return [copy_json(dict(item.body)) for item in load_objects(paths)]


def relocated(objects: Iterable[Mapping[str, Any]], namespace: str) -> list[dict[str, Any]]:
    """Copies of ``objects`` living in ``namespace``, referring to each other there."""
    moved = []
    for original in objects:
        obj = copy_json(dict(original))
        obj["metadata"]["namespace"] = namespace
        spec = obj.get("spec") or {}
        if obj["kind"] == "DataFlow":
            spec["functionChainRef"]["namespace"] = namespace
        elif obj["kind"] == "FunctionChain":
            spec["functionTypeNamespace"] = namespace
            spec["connectionTypeNamespace"] = namespace
        elif obj["kind"] == "FunctionType":
            spec["functionInfoCMRef"]["namespace"] = namespace
        moved.append(obj)
    return moved


def dataflow_copies(dataflow: Mapping[str, Any], names: Iterable[str]) -> list[dict[str, Any]]:
    """The same DataFlow under each name (the same chain, many times)."""
    copies = []
    for name in names:
        copy = copy_json(dict(dataflow))
        copy["metadata"] = {"name": name, "namespace": dataflow["metadata"]["namespace"]}
        copies.append(copy)
    return copies


def apply_objects(api: client.ApiClient, objects: Iterable[Mapping[str, Any]]) -> None:
    """Server-Side Apply each object, in order, as the user ``kasugai-test``."""
    kube = KubeApi(api)
    for obj in objects:
        kube.apply(obj, field_manager=USER_FIELD_MANAGER)
