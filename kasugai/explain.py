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

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

__all__ = ["Cause", "Explanation", "clean", "explain", "render_text"]

MESSAGE_LIMIT = 600  # characters of any text quoted from an object
MAX_PODS = 200  # Pods, Events and transitions looked at: bounds the work on hostile input
MAX_EVENTS = 200
MAX_CONNECTION_CAUSES = 5  # connection causes shown; the rest are counted
CONNECTION_LOADED = "kasugai.io/ConnectionLoaded"
RENDER_FAILED = "RenderFailed"
SIDECAR = "sidecar"  # the sidecar container's name in the samples' Pod templates

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_MORE = re.compile(r" \(and (\d+) more\)$")
_NAME = r"[A-Za-z0-9][-A-Za-z0-9_.]*"
_CHAIN_WAIT = re.compile(rf"^waiting for FunctionChain ({_NAME})/({_NAME})(?: not found|: (.*))$")
_TYPE_MISSING = re.compile(
    rf"^(spec\.functions\.{_NAME}): FunctionType with functionName '([^']*)' and version "
    rf"'([^']*)' not found in namespace '({_NAME})'$"
)
_CONFIG_MISSING = re.compile(
    rf"^waiting for function '([^']*)': config ConfigMap '({_NAME})' not found in "
    rf"'({_NAME})'(?: or '({_NAME})')?$"
)
_NOT_FOUND = re.compile(rf"^(?:(.*?): )?(\w+) ({_NAME})/({_NAME}) not found$")
_CONFLICT = re.compile(rf"^(\w+) ({_NAME})/({_NAME}) already exists and is not this DataFlow's")
_OBJECT = re.compile(rf"(ConfigMap|FunctionType|FunctionChain|DataFlow) ({_NAME})/({_NAME}):? ")
_REWIRING = re.compile(r"^Rewiring: waiting for (\S+) to (start|be Ready|load its next hop)")
_INSUFFICIENT = re.compile(r"Insufficient ([A-Za-z0-9/_-]+(?:\.[A-Za-z0-9/_-]+)*)")
_IMAGE_REASONS = frozenset({"ImagePullBackOff", "ErrImagePull", "InvalidImageName"})
_CRASH_REASONS = frozenset(
    {"CrashLoopBackOff", "RunContainerError", "CreateContainerError", "CreateContainerConfigError"}
)


def clean(text: Any, limit: int = MESSAGE_LIMIT) -> str:
    """Text from an object, safe to print: no control characters, at most ``limit`` long."""
    value = _CONTROL.sub(" ", str(text if text is not None else ""))
    return value if len(value) <= limit else value[: limit - 3] + "..."


@attrs.frozen
class Cause:
    """One link of the chain: what it is about, what happened, what to do."""

    about: str  # "FunctionType calcapp-send in namespace ns", "Pod ns/name", "connection a->b"
    reason: str  # MissingInput, InvalidConfig, Conflict, Unschedulable, CrashLoopBackOff, ...
    message: str
    action: str


@attrs.frozen
class Explanation:
    namespace: str
    name: str
    status: str
    message: str
    healthy: bool
    causes: tuple[Cause, ...]
    events: tuple[dict[str, str], ...] = ()
    transitions: tuple[dict[str, str], ...] = ()
    summary: str = ""

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any, limit: int = MAX_PODS) -> list[Any]:
    return list(value[:limit]) if isinstance(value, list) else []


def _conditions(status: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {
        str(c.get("type")): c for c in _list(status.get("conditions")) if isinstance(c, Mapping)
    }


# --- inputs -------------------------------------------------------------------------------


def _split(message: str) -> tuple[list[str], int]:
    """The problems of a summarized message, and how many more it left out."""
    more = _MORE.search(message)
    if more:
        message = message[: more.start()]
    return [p for p in message.split("; ") if p], int(more.group(1)) if more else 0


def _missing(problem: str, namespace: str) -> Cause | None:
    chain = _CHAIN_WAIT.match(problem)
    if chain:
        chain_ns, chain_name, rest = chain.groups()
        where = f"FunctionChain {chain_ns}/{chain_name}"
        if rest is None:
            return Cause(
                f"FunctionChain {chain_name} in namespace {chain_ns}",
                "MissingInput",
                f"{where} does not exist",
                f"create FunctionChain {chain_name} in namespace {chain_ns}, or point the "
                "DataFlow's spec.functionChainRef at an existing one",
            )
        wanted = _TYPE_MISSING.match(rest)
        if wanted:
            field, function_name, version, type_ns = wanted.groups()
            return Cause(
                f"FunctionType {function_name} (version {version}) in namespace {type_ns}",
                "MissingInput",
                f"{where}: {rest}",
                f"create a FunctionType with spec.functionName {function_name!r} and "
                f"spec.version {version!r} in namespace {type_ns}, or fix {field} of {where}",
            )
        found = _missing(rest, chain_ns)
        if found is not None:
            return attrs.evolve(found, message=f"{where}: {found.message}")
        return Cause(
            where, "InvalidConfig", rest, f"fix {where} as the message says; {_field_hint(rest)}"
        )
    config = _CONFIG_MISSING.match(problem)
    if config:
        function, name, first, second = config.groups()
        places = f"namespace {first}" + (f" (or {second})" if second else "")
        return Cause(
            f"ConfigMap {name} in {places}",
            "MissingInput",
            f"function {function!r} needs its config ConfigMap {name}, which does not exist",
            f"create ConfigMap {name} in namespace {first} (kubectl apply -n {first} -f ...)",
        )
    gone = _NOT_FOUND.match(problem)
    if gone:
        context, kind, object_ns, name = gone.groups()
        why = f" ({context})" if context else ""
        return Cause(
            f"{kind} {name} in namespace {object_ns}",
            "MissingInput",
            f"{kind} {object_ns}/{name} does not exist{why}",
            f"create {kind} {name} in namespace {object_ns}",
        )
    return None


def _field_hint(problem: str) -> str:
    """The field a validation problem names, as the place to fix it."""
    found = _OBJECT.search(problem)
    rest = problem[found.end() :] if found else problem
    field, _, why = rest.partition(": ")
    return f"the field is {field} ({why})" if why else "the message names the field"


def _invalid(problem: str, namespace: str, name: str) -> Cause:
    found = _OBJECT.search(problem)
    if found:
        kind, object_ns, object_name = found.groups()
        about = f"{kind} {object_ns}/{object_name}"
        rest = problem[found.end() :]
    else:
        about, rest = f"DataFlow {namespace}/{name}", problem
    field, _, why = rest.partition(": ")
    if why:
        action = f"fix {field} in {about}: {why}; the DataFlow is planned again on the next edit"
    else:
        action = f"fix {about} as the message says; the DataFlow is planned again on the next edit"
    return Cause(about, "InvalidConfig", problem, action)


def _input_causes(status: Mapping[str, Any], namespace: str, name: str) -> list[Cause]:
    resolved = _conditions(status).get("Resolved")
    if resolved is None or resolved.get("status") != "False":
        return []
    reason = str(resolved.get("reason") or "")
    problems, more = _split(clean(resolved.get("message"), 4 * MESSAGE_LIMIT))
    causes = []
    for problem in problems:
        if reason == "Conflict" or _CONFLICT.match(problem):
            owned = _CONFLICT.match(problem)
            kind, object_ns, object_name = owned.groups() if owned else ("object", namespace, "?")
            causes.append(
                Cause(
                    f"{kind} {object_ns}/{object_name}",
                    "Conflict",
                    problem,
                    f"kubectl delete -n {object_ns} {kind.lower()} {object_name} if it is a "
                    "leftover; else rename the DataFlow or the function so the names differ",
                )
            )
            continue
        missing = _missing(problem, namespace)
        if missing is not None:
            causes.append(missing)
        elif reason == "AccessDenied":
            causes.append(
                Cause(
                    f"DataFlow {namespace}/{name}",
                    "AccessDenied",
                    problem,
                    "grant kasugai's account in this namespace what the message names "
                    "(kubectl apply -k manifests/tenant -n NAMESPACE)",
                )
            )
        else:
            causes.append(_invalid(problem, namespace, name))
    if more:
        causes.append(
            Cause(
                f"DataFlow {namespace}/{name}",
                causes[-1].reason if causes else "WaitingForInputs",
                f"and {more} more problem(s) like these",
                "kubectl get functionchain,functiontype -n NAMESPACE -o yaml shows every "
                "problem in their status",
            )
        )
    return _unique(causes)


def _unique(causes: Iterable[Cause]) -> list[Cause]:
    seen: dict[tuple[str, str], Cause] = {}
    for cause in causes:
        seen.setdefault((cause.about, cause.reason), cause)
    return list(seen.values())


# --- Pods ---------------------------------------------------------------------------------


def _logs(source: str, namespace: str, pod: str, container: str, previous: bool = False) -> str:
    if source == "local":
        return f"kasugai logs -n {namespace} {pod} -c {container}"
    return f"kubectl logs -n {namespace} {pod} -c {container}" + (" --previous" if previous else "")


def _last_termination(container: Mapping[str, Any]) -> str:
    terminated = _map(_map(container.get("lastState")).get("terminated"))
    if not terminated:
        terminated = _map(_map(container.get("state")).get("terminated"))
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
    state = _map(container.get("state"))
    waiting = _map(state.get("waiting"))
    terminated = _map(state.get("terminated"))
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


def _pod_causes(pod: Mapping[str, Any], source: str) -> list[Cause]:
    meta, status = _map(pod.get("metadata")), _map(pod.get("status"))
    namespace, name = clean(meta.get("namespace"), 100), clean(meta.get("name"), 300)
    about = f"Pod {namespace}/{name}"
    if meta.get("deletionTimestamp"):
        return [Cause(about, "Terminating", "the Pod is being deleted", "wait for it to go")]
    conditions = _conditions(status)
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
        *_list(status.get("initContainerStatuses")),
        *_list(status.get("containerStatuses")),
    ]:
        found = _container_cause(about, namespace, name, _map(container), source)
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


def _pod_ok(pod: Mapping[str, Any]) -> bool:
    status = _map(pod.get("status"))
    ready = _conditions(status).get("Ready")
    return status.get("phase") == "Running" and (ready is None or ready.get("status") == "True")


# --- Events and connections ------------------------------------------------------------------


def _event(event: Mapping[str, Any]) -> dict[str, str]:
    involved = _map(event.get("involvedObject") or event.get("regarding"))
    return {
        "type": clean(event.get("type") or "Normal", 20),
        "reason": clean(event.get("reason"), 100),
        "object": f"{clean(involved.get('kind'), 40)}/{clean(involved.get('name'), 300)}",
        "message": clean(event.get("message") or event.get("note")),
        "count": clean(event.get("count") or 1, 12),
    }


def _event_cause(event: dict[str, str]) -> Cause:
    kind, _, name = event["object"].partition("/")
    if event["reason"] == "ApplyFailed":
        action = (
            "the API server refused the controller's write: fix what the message names (RBAC, "
            "quota, admission); the controller retries"
        )
    else:
        action = f"kubectl describe {kind.lower()} {name} shows the rest"
    return Cause(f"{kind} {name}", event["reason"], event["message"], action)


def _warnings(events: Sequence[dict[str, str]], kind: str, name: str) -> list[dict[str, str]]:
    wanted = f"{kind}/{name}"
    return [e for e in events if e["type"] == "Warning" and e["object"] == wanted]


_GENERIC = frozenset({"Pending", "NotReady"})


def _connection_causes(
    status: Mapping[str, Any], pods_by_function: Mapping[str, str], source: str
) -> list[Cause]:
    causes = []
    # A chain is rewired from its end towards its start: the last connection waits for nothing
    # further down, so it is the root and comes first.
    for connection in reversed(_list(status.get("connections"))):
        connection = _map(connection)
        if connection.get("published") is True:
            continue
        state = clean(connection.get("state") or "Waiting", 40)
        subject = (
            f"connection {clean(connection.get('from'), 100)}->{clean(connection.get('to'), 100)}"
        )
        reason = clean(connection.get("reason") or "")
        rewiring = _REWIRING.match(reason)
        if rewiring:
            hop, what = rewiring.groups()
            pod = pods_by_function.get(hop, f"the Pod of {hop}")
            if what == "load its next hop":
                action = (
                    f"{hop}'s sidecar has not reported loading its config ({CONNECTION_LOADED} "
                    f"on Pod {pod}): check that its function runs and its sidecar's log"
                )
            else:
                when = "up" if what == "start" else "Ready"
                action = f"see Pod {pod} above: once it is {when}, the upstream is switched to it"
        elif state == "Stale":
            action = (
                "the next hop's address is gone (its Service or Pod lost it); the last address "
                "is kept until it is back: check the next hop's Service and Pod"
            )
        else:
            action = (
                "the controller publishes it once the next hop's address is known; if it lasts, "
                "check that the controller runs and its Events (ApplyFailed)"
            )
        causes.append(Cause(subject, state, reason or state, action))
    if len(causes) > MAX_CONNECTION_CAUSES:
        rest = len(causes) - MAX_CONNECTION_CAUSES
        more = Cause(
            "connections",
            "Waiting",
            f"and {rest} more connection(s) not published",
            "they follow from the causes above",
        )
        causes = [*causes[:MAX_CONNECTION_CAUSES], more]
    return causes


def _controller_causes(
    meta: Mapping[str, Any], status: Mapping[str, Any], namespace: str, name: str
) -> list[Cause]:
    """The status itself is missing or older than the spec: nothing else in it is current."""
    about = f"DataFlow {namespace}/{name}"
    if not status.get("status"):
        return [
            Cause(
                about,
                "NoStatus",
                "no controller has written its status yet",
                "check that kasugai's controller runs and watches this namespace "
                "(kubectl -n kasugai-system get pods; its --namespace flags)",
            )
        ]
    generation, observed = meta.get("generation"), status.get("observedGeneration")
    if isinstance(generation, int) and isinstance(observed, int) and observed < generation:
        return [
            Cause(
                about,
                "NotObservedYet",
                f"the status is of generation {observed}; the spec is at {generation}",
                "wait a moment for the controller; if it lasts, check that it runs",
            )
        ]
    return []


# --- the whole chain -----------------------------------------------------------------------


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
    meta, status = _map(dataflow.get("metadata")), _map(dataflow.get("status"))
    namespace, name = clean(meta.get("namespace"), 100), clean(meta.get("name"), 300)
    state = clean(status.get("status") or "Pending", 40)
    pods = [_map(p) for p in list(pods)[:MAX_PODS]]
    functions = [_map(f) for f in _list(status.get("functions"))]
    pod_names = {clean(_map(p.get("metadata")).get("name"), 300) for p in pods}
    pods_by_function = {
        clean(f.get("key"), 100): f"{namespace}/{clean(f.get('pod'), 300)}" for f in functions
    }
    shown_events = tuple(_event(_map(e)) for e in list(events)[-MAX_EVENTS:])

    causes = _controller_causes(meta, status, namespace, name)
    causes += _input_causes(status, namespace, name)
    # An apply the API server refused is reported only by an Event on the DataFlow.
    refused = [e for e in _warnings(shown_events, "DataFlow", name) if e["reason"] == "ApplyFailed"]
    causes += [_event_cause(e) for e in refused[-1:]]
    pod_causes = []
    for pod in pods:
        found = _pod_causes(pod, source)
        pod_name = clean(_map(pod.get("metadata")).get("name"), 300)
        warnings = _warnings(shown_events, "Pod", pod_name)
        if warnings and found and all(c.reason in _GENERIC for c in found):
            found = [_event_cause(warnings[-1])]  # e.g. FailedScheduling, said only by an Event
        pod_causes += found
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
    causes += pod_causes
    causes += _connection_causes(status, pods_by_function, source)

    connections = [_map(c) for c in _list(status.get("connections"))]
    published = sum(c.get("published") is True for c in connections)
    ready = sum(_pod_ok(p) for p in pods)
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
        causes=tuple(_unique(causes)),
        events=shown_events[-10:],
        transitions=tuple(_transition(_map(t)) for t in list(transitions)[-10:]),
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
