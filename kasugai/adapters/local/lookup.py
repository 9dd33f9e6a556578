"""Finding a Pod of the local runtime by name, as ``kasugai logs`` and ``kasugai exec`` need.

The source is the Pod's ``pod.json`` (written when it was started) and, for whether it runs now,
``state.json``. Errors are ``InputError``s that say what exists instead.
"""

from __future__ import annotations

from pathlib import Path

import cattrs

from kasugai.adapters.files import InputError
from kasugai.adapters.local.layout import StateDir, read_json
from kasugai.adapters.local.lock import holder
from kasugai.adapters.local.podspec import ContainerSpec, PodSpec, load_pod_spec
from kasugai.adapters.local.snapshot import read_snapshot

__all__ = ["find_container", "find_pod", "pod_is_running"]


def _known(state: StateDir) -> list[Path]:
    return sorted(state.root.glob("pods/*/*/pod.json"))


def find_pod(state: StateDir, name: str, namespace: str | None = None) -> PodSpec:
    """The Pod called ``name`` (in ``namespace`` if given)."""
    files = [p for p in _known(state) if p.parent.name == name]
    if namespace:
        files = [p for p in files if p.parent.parent.name == namespace]
    if not files:
        names = ", ".join(p.parent.name for p in _known(state)) or "none"
        raise InputError(
            f'pods "{name}" not found in state directory {state.root} (Pods there: {names})'
        )
    if len(files) > 1:
        spaces = ", ".join(p.parent.parent.name for p in files)
        raise InputError(f'pod "{name}" exists in several namespaces ({spaces}): give -n')
    try:
        return load_pod_spec(read_json(files[0]))
    except (cattrs.BaseValidationError, ValueError, TypeError) as error:
        raise InputError(
            f"{files[0]}: not a Pod description written by kasugai up ({error})"
        ) from None


def find_container(pod: PodSpec, name: str | None) -> tuple[ContainerSpec, str | None]:
    """The container (the first when no name is given) and kubectl's note when it defaulted."""
    container = pod.container(name)
    names = ", ".join(c.name for c in pod.containers)
    if container is None:
        raise InputError(f"container {name} is not valid for pod {pod.name} (containers: {names})")
    note = None
    if name is None and len(pod.containers) > 1:
        note = f'Defaulted container "{container.name}" out of: {names}'
    return container, note


def pod_is_running(state: StateDir, pod: PodSpec) -> bool:
    """Whether a supervisor runs and its snapshot shows this Pod Running."""
    if holder(state) is None:
        return False
    snapshot = read_snapshot(state) or {}
    return any(
        p["name"] == pod.name and p["namespace"] == pod.namespace and p["phase"] == "Running"
        for p in snapshot.get("pods", [])
    )
