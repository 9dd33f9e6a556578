"""``state.json``: what the supervisor runs, for ``kasugai status``, ``exec`` and ``down``.

The supervisor rewrites it atomically after every change: the DataFlow statuses from the core
(with their functions and connections), each Pod with its address, phase and container PIDs, the
Services with their addresses, the ConfigMap files, and the problems that keep something from
running. Readers never see half a file and never need the supervisor to answer.
"""

from __future__ import annotations

import json
import time
from typing import Any

from kasugai.adapters.local.layout import StateDir, read_json
from kasugai.adapters.local.reconciler import Reconciler
from kasugai.atomic_files import write_atomically
from kasugai.core import names

__all__ = ["build_snapshot", "read_snapshot", "write_snapshot"]


def _pods(reconciler: Reconciler) -> list[dict[str, Any]]:
    pods = []
    for key, body in sorted(reconciler.actual.items()):
        if key.kind != "Pod":
            continue
        labels = body["metadata"].get("labels") or {}
        spec = reconciler.specs.get(key)
        status = body.get("status") or {}
        pods.append(
            {
                "namespace": key.namespace,
                "name": key.name,
                "dataflow": labels.get(names.DATAFLOW_LABEL, ""),
                "function": labels.get(names.FUNCTION_KEY_LABEL, ""),
                "address": status.get("podIP", ""),
                "phase": status.get("phase", ""),
                "directory": spec.directory if spec else "",
                "configDir": spec.config_dir if spec else "",
                "containers": status.get("containerStatuses") or [],
            }
        )
    return pods


def _services(reconciler: Reconciler) -> list[dict[str, Any]]:
    return [
        {
            "namespace": key.namespace,
            "name": key.name,
            "type": body["spec"].get("type", ""),
            "address": body["spec"].get("clusterIP", ""),
            "ports": [f"{p['port']}/{p.get('protocol', 'TCP')}" for p in body["spec"]["ports"]],
        }
        for key, body in sorted(reconciler.actual.items())
        if key.kind == "Service"
    ]


def _connections(reconciler: Reconciler) -> list[dict[str, Any]]:
    return [
        {"namespace": plan.key.namespace, "dataflow": plan.key.name, **connection}
        for plan in reconciler.engine.plans()
        for connection in plan.status.get("connections", [])
    ]


def build_snapshot(
    reconciler: Reconciler, supervisor: dict[str, Any], problems: list[str]
) -> dict[str, Any]:
    plans = reconciler.engine.plans()
    return {
        "supervisor": {**supervisor, "updatedAt": time.time()},
        "dataflows": [
            {"namespace": p.key.namespace, "name": p.key.name, "status": p.status} for p in plans
        ],
        "pods": _pods(reconciler),
        "services": _services(reconciler),
        "connections": _connections(reconciler),
        "configmaps": [
            {
                "namespace": key.namespace,
                "name": key.name,
                "file": str(reconciler.configmaps.path(key.namespace, key.name)),
            }
            for key in sorted(reconciler.actual)
            if key.kind == "ConfigMap"
        ],
        "problems": problems + reconciler.problems(),
    }


def write_snapshot(state: StateDir, snapshot: dict[str, Any]) -> None:
    write_atomically(state.snapshot, json.dumps(snapshot, indent=2, sort_keys=True) + "\n")


def read_snapshot(state: StateDir) -> dict[str, Any] | None:
    """The last snapshot, or None if no supervisor ever ran with this state directory."""
    data = read_json(state.snapshot)
    return data if isinstance(data, dict) else None
