"""What marks an object as ours: inventory labels and the controller ownerReference.

Every Pod, Service and ConfigMap kasugai creates carries ``app.kubernetes.io/managed-by:
kasugai``, ``kasugai.io/dataflow`` and ``kasugai.io/function-key`` labels (so the diff can find
and delete what is no longer desired, and nothing else), and a controller ownerReference to its
DataFlow (so Kubernetes garbage-collects everything when the DataFlow is deleted).

A DataFlow read from files has no uid; its ownerReferences then omit ``uid`` altogether (always,
never an empty string) and the diff, which compares only fields we set, accepts the server's uid.
"""

from __future__ import annotations

from typing import Any

import attrs

from kasugai.core import names

__all__ = ["Owner", "copy_json"]


@attrs.frozen
class Owner:
    """The DataFlow that owns the objects of a plan."""

    namespace: str
    name: str
    uid: str = ""
    # One ownerReferences list shared by every object of the plan, and one labels dict per
    # function shared by its objects that carry only ours (objects are read-only): at 10,000
    # DataFlows, a dict of the same three labels per object was a tenth of the engine's memory.
    _references: list[dict[str, Any]] = attrs.field(init=False, eq=False, repr=False)
    _labels: dict[str, dict[str, str]] = attrs.field(init=False, eq=False, repr=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_references", [self.reference()])

    def labels(self, function_key: str) -> dict[str, str]:
        return {
            names.MANAGED_BY_LABEL: names.MANAGER,
            names.DATAFLOW_LABEL: self.name,
            names.FUNCTION_KEY_LABEL: function_key,
        }

    def reference(self) -> dict[str, Any]:
        ref: dict[str, Any] = {
            "apiVersion": names.API_VERSION,
            "kind": "DataFlow",
            "name": self.name,
            "controller": True,
            "blockOwnerDeletion": True,
        }
        if self.uid:
            ref["uid"] = self.uid
        return ref

    def metadata(
        self,
        name: str,
        function_key: str,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Object metadata: the given labels, then ours (ours win), annotations if any."""
        ours = self._labels.get(function_key)
        if ours is None:
            ours = self._labels[function_key] = self.labels(function_key)
        meta: dict[str, Any] = {
            "name": name,
            "namespace": self.namespace,
            "labels": {**labels, **ours} if labels else ours,
        }
        if annotations:
            meta["annotations"] = annotations
        meta["ownerReferences"] = self._references
        return meta


def copy_json(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists, scalars); several times faster than deepcopy."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [copy_json(v) for v in value]
    return value
