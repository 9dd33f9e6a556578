"""Causes in the Pods: scheduling, images, crashes, a sidecar that could not render."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kasugai.explain.model import (
    CONNECTION_LOADED,
    RENDER_FAILED,
    SIDECAR,
    Cause,
    as_list,
    as_map,
    clean,
    conditions_of,
)

_INSUFFICIENT = re.compile(r"Insufficient ([A-Za-z0-9/_-]+(?:\.[A-Za-z0-9/_-]+)*)")
_IMAGE_REASONS = frozenset({"ImagePullBackOff", "ErrImagePull", "InvalidImageName"})
_CRASH_REASONS = frozenset(
    {"CrashLoopBackOff", "RunContainerError", "CreateContainerError", "CreateContainerConfigError"}
)


def _logs(source: str, namespace: str, pod: str, container: str, previous: bool = False) -> str:
    if source == "local":
        return f"kasugai logs -n {namespace} {pod} -c {container}"
    return f"kubectl logs -n {namespace} {pod} -c {container}" + (" --previous" if previous else "")


def _last_termination(container: Mapping[str, Any]) -> str:
    terminated = as_map(as_map(container.get("lastState")).get("terminated"))
    if not terminated:
        terminated = as_map(as_map(container.get("state")).get("terminated"))
    if not terminated:
        return ""
    parts = [f"exit code {terminated.get('exitCode')}"]
    if terminated.get("reason"):
        parts.append(clean(terminated.get("reason"), 80))
    text = f"last termination: {', '.join(parts)}"
    if terminated.get("message"):
        text += f": {clean(terminated.get('message'))}"
    return text


def _container_cause(
    pod_about: str, namespace: str, pod: str, container: Mapping[str, Any], source: str
) -> Cause | None:
    name = clean(container.get("name"), 100)
    state = as_map(container.get("state"))
    waiting = as_map(state.get("waiting"))
    terminated = as_map(state.get("terminated"))
    reason = clean(waiting.get("reason") or "", 100)
    detail = clean(waiting.get("message") or "")
    about = f"{pod_about} container {name}"
    if reason in _IMAGE_REASONS:
        image = clean(container.get("image") or "", 200)
        return Cause(
            about,
            reason,
            f"{reason}"
            + (f": {detail}" if detail else "")
            + (f" (image {image})" if image else ""),
            "check that the image exists and the node can pull it (its name and tag in the "
            "function's config ConfigMap, the registry, imagePullSecrets)",
        )
    if reason in _CRASH_REASONS or (terminated and terminated.get("exitCode") not in (0, None)):
        reason = reason or "Terminated"
        last = _last_termination(container)
        restarts = container.get("restartCount")
        said = "; ".join(
            p
            for p in (
                detail,
                f"restarted {restarts} time(s)" if isinstance(restarts, int) else "",
                last,
            )
            if p
        )
        return Cause(
            about,
            reason,
            f"{reason}" + (f": {said}" if said else ""),
            f"read why it stops: {_logs(source, namespace, pod, name, True)}; then fix the "
            "function's image, command or config",
        )
    return None


def pod_causes(pod: Mapping[str, Any], source: str) -> list[Cause]:
    meta, status = as_map(pod.get("metadata")), as_map(pod.get("status"))
    namespace, name = clean(meta.get("namespace"), 100), clean(meta.get("name"), 300)
    about = f"Pod {namespace}/{name}"
    if meta.get("deletionTimestamp"):
        return [Cause(about, "Terminating", "the Pod is being deleted", "wait for it to go")]
    conditions = conditions_of(status)
    causes: list[Cause] = []
    scheduled = conditions.get("PodScheduled")
    if scheduled is not None and scheduled.get("status") == "False":
        message = clean(scheduled.get("message"))
        wanted = _INSUFFICIENT.findall(message)
        what = f" ({', '.join(dict.fromkeys(wanted))})" if wanted else ""
        causes.append(
            Cause(
                about,
                clean(scheduled.get("reason") or "Unschedulable", 100),
                f"the scheduler cannot place it: {message}",
                f"free or add nodes with the resources it asks for{what}, or lower the "
                "function's requests (its FunctionType's functionInfo / config ConfigMap)",
            )
        )
    for container in [
        *as_list(status.get("initContainerStatuses")),
        *as_list(status.get("containerStatuses")),
    ]:
        found = _container_cause(about, namespace, name, as_map(container), source)
        if found is not None:
            causes.append(found)
    loaded = conditions.get(CONNECTION_LOADED)
    if (
        loaded is not None
        and loaded.get("status") == "False"
        and loaded.get("reason") == (RENDER_FAILED)
    ):
        causes.append(
            Cause(
                f"{about} sidecar",
                RENDER_FAILED,
                f"the sidecar could not render the function's config: {_said_message(loaded)}",
                "fix the template in the function's config directory (*.tmpl) or the connection "
                f"config it is given; its log says more: {_logs(source, namespace, name, SIDECAR)}",
            )
        )
    phase = clean(status.get("phase") or "Pending", 40)
    if not causes and phase in ("Failed", "Unknown"):
        causes.append(
            Cause(
                about,
                f"Pod{phase}",
                f"phase {phase}"
                + (f": {clean(status.get('reason'))}" if status.get("reason") else "")
                + (f": {clean(status.get('message'))}" if status.get("message") else ""),
                f"kubectl describe pod -n {namespace} {name}; delete it and the controller "
                "makes a new one",
            )
        )
    ready = conditions.get("Ready")
    if not causes and phase == "Running" and ready is not None and ready.get("status") != "True":
        causes.append(
            Cause(
                about,
                "NotReady",
                "Running but not Ready" + _said(ready),
                f"check its readiness: kubectl describe pod -n {namespace} {name}",
            )
        )
    if not causes and phase == "Pending":
        causes.append(
            Cause(
                about,
                "Pending",
                "not running yet" + (_said(scheduled) if scheduled else " (not scheduled yet)"),
                "wait for the scheduler and the kubelet; if it lasts, "
                f"kubectl describe pod -n {namespace} {name} shows why",
            )
        )
    return causes


def _said_message(condition: Mapping[str, Any]) -> str:
    return clean(condition.get("message"))


def _said(condition: Mapping[str, Any] | None) -> str:
    if not condition:
        return ""
    words = [clean(condition.get(k), 300) for k in ("reason", "message") if condition.get(k)]
    return f" ({': '.join(words)})" if words else ""


def pod_ok(pod: Mapping[str, Any]) -> bool:
    status = as_map(pod.get("status"))
    ready = conditions_of(status).get("Ready")
    return status.get("phase") == "Running" and (ready is None or ready.get("status") == "True")
