"""Why a DataFlow is where it is: its status, its Pods and Events in; causes out (no I/O).

``explain`` reads what the controller and the kubelet already say (the DataFlow's conditions,
functions and connections; each Pod's phase, conditions and container states; Warning Events;
the journal's transitions when there is one) and orders what blocks the DataFlow from root cause
to symptom: inputs first (missing, invalid, conflicting), then Pods (scheduling, images, crashes,
a sidecar that could not render), then connections waiting for their next hop. Each cause names
the object it is about and what to do. ``kasugai explain`` (``kasugai.commands.explain``) does
the reading and the printing.

Everything read here comes from the cluster or a state file: it is shortened and stripped of
control characters before it is shown, so an object cannot write escape sequences to a terminal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kasugai.explain.connections import (
    GENERIC_REASONS,
    connection_causes,
    controller_causes,
    event_cause,
    event_of,
    warnings_about,
)
from kasugai.explain.inputs import input_causes, unique
from kasugai.explain.model import (
    MAX_EVENTS,
    MAX_PODS,
    Cause,
    Explanation,
    as_list,
    as_map,
    clean,
)
from kasugai.explain.pods import pod_causes, pod_ok

__all__ = ["MAX_EVENTS", "MAX_PODS", "Cause", "Explanation", "clean", "explain", "render_text"]


def explain(
    dataflow: Mapping[str, Any],
    pods: Iterable[Mapping[str, Any]] = (),
    events: Iterable[Mapping[str, Any]] = (),
    transitions: Iterable[Mapping[str, Any]] = (),
    source: str = "cluster",
) -> Explanation:
    """Why ``dataflow`` (a DataFlow object, with its status) is where it is.

    ``pods``: Kubernetes Pod objects of the DataFlow; ``events``: core/v1 Events about it and
    its Pods (oldest first); ``transitions``: the journal's ``Transitioned`` entries for it
    (oldest first); ``source``: ``cluster`` or ``local`` (how to read logs).
    """
    meta, status = as_map(dataflow.get("metadata")), as_map(dataflow.get("status"))
    namespace, name = clean(meta.get("namespace"), 100), clean(meta.get("name"), 300)
    state = clean(status.get("status") or "Pending", 40)
    pods = [as_map(p) for p in list(pods)[:MAX_PODS]]
    functions = [as_map(f) for f in as_list(status.get("functions"))]
    pod_names = {clean(as_map(p.get("metadata")).get("name"), 300) for p in pods}
    pods_by_function = {
        clean(f.get("key"), 100): f"{namespace}/{clean(f.get('pod'), 300)}" for f in functions
    }
    shown_events = tuple(event_of(as_map(e)) for e in list(events)[-MAX_EVENTS:])

    causes = controller_causes(meta, status, namespace, name)
    causes += input_causes(status, namespace, name)
    # An apply the API server refused is reported only by an Event on the DataFlow.
    refused = [
        e for e in warnings_about(shown_events, "DataFlow", name) if e["reason"] == "ApplyFailed"
    ]
    causes += [event_cause(e) for e in refused[-1:]]
    found_in_pods: list[Cause] = []
    for pod in pods:
        found = pod_causes(pod, source)
        pod_name = clean(as_map(pod.get("metadata")).get("name"), 300)
        warnings = warnings_about(shown_events, "Pod", pod_name)
        if warnings and found and all(c.reason in GENERIC_REASONS for c in found):
            found = [event_cause(warnings[-1])]  # e.g. FailedScheduling, said only by an Event
        found_in_pods += found
    absent = [
        clean(f.get("pod"), 300)
        for f in functions
        if clean(f.get("pod"), 300) not in pod_names and f.get("phase") == "Absent"
    ]
    if absent and state not in ("Error", "Pending"):
        shown = ", ".join(absent[:3]) + (
            f" (and {len(absent) - 3} more)" if len(absent) > 3 else ""
        )
        causes.append(
            Cause(
                f"Pods of DataFlow {namespace}/{name}",
                "PodsMissing",
                f"not created yet: {shown}",
                "the controller creates them: check that it runs (its Lease holder's log) and "
                "the DataFlow's Events (ApplyFailed)",
            )
        )
    causes += found_in_pods
    causes += connection_causes(status, pods_by_function, source)

    connections = [as_map(c) for c in as_list(status.get("connections"))]
    published = sum(c.get("published") is True for c in connections)
    ready = sum(pod_ok(p) for p in pods)
    expected = max(len(pods), len(functions))  # a Pod leaving the chain still counts, until gone
    healthy = (
        state == "Deployed"
        and bool(pods)
        and ready == len(pods)
        and len(pods) >= len(functions)
        and published == len(connections)
        and not causes  # e.g. a sidecar that failed to render on a Pod that is Ready
    )
    if state == "Deployed" and not healthy and not causes:
        causes.append(
            Cause(
                f"DataFlow {namespace}/{name}",
                "NotObserved",
                f"{ready}/{expected} Pods Running and Ready",
                "the Pods' status is not what the DataFlow's says yet: run explain again shortly",
            )
        )
    return Explanation(
        namespace=namespace,
        name=name,
        status=state,
        message=clean(status.get("message")),
        healthy=healthy,
        causes=tuple(unique(causes)),
        events=shown_events[-10:],
        transitions=tuple(_transition(as_map(t)) for t in list(transitions)[-10:]),
        summary=(
            f"{ready}/{expected} Pods Running and Ready, "
            f"{published}/{len(connections)} connections published"
        ),
    )


def _transition(entry: Mapping[str, Any]) -> dict[str, str]:
    subject = clean(entry.get("subject"), 200)
    return {
        "machine": clean(entry.get("machine"), 40),
        "subject": subject,
        "from": clean(entry.get("from_state") or "New", 40),
        "to": clean(entry.get("to_state"), 40),
        "reason": clean(entry.get("reason"), 100),
        "message": clean(entry.get("message")),
    }


def render_text(explanation: Explanation) -> str:
    """kubectl-describe-like text: the status line, then the causes, root first."""
    lines = [f"DataFlow {explanation.namespace}/{explanation.name}: {explanation.status}"]
    if explanation.healthy:
        lines.append(f"Healthy: {explanation.summary}.")
    else:
        if explanation.message:
            lines.append(f"Message: {explanation.message}")
        lines.append(f"Summary: {explanation.summary}")
        lines.append("Causes (root cause first):")
        for number, cause in enumerate(explanation.causes, 1):
            lines.append(f"  {number}. {cause.about}: {cause.reason}")
            lines.append(f"     {cause.message}")
            lines.append(f"     -> {cause.action}")
    if explanation.transitions:
        lines.append("Transitions (journal, newest last):")
        for t in explanation.transitions:
            subject = f" {t['subject']}" if t["subject"] else ""
            detail = f": {t['message']}" if t["message"] else ""
            lines.append(
                f"  {t['machine']}{subject}: {t['from']} -> {t['to']} ({t['reason']}){detail}"
            )
    if explanation.events:
        lines.append("Events:")
        lines.append("  Type     Reason           Object                      Message")
        for e in explanation.events:
            lines.append(f"  {e['type']:<8} {e['reason']:<16} {e['object']:<27} {e['message']}")
    return "\n".join(lines) + "\n"
