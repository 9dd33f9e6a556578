"""``kasugai explain DATAFLOW``: why a DataFlow is where it is, root cause first.

Reads the DataFlow, its Pods and the Events about them, from a cluster (``--cluster``: the
kubeconfig, like ``kasugai diff --cluster``) or from the local runtime's state directory (the
default, as ``kasugai status``), and, with ``--journal FILE``, the transitions the controller
recorded for it. The reasoning is ``kasugai.explain`` (no I/O); this module only reads and prints.

In a cluster the user needs only ``get`` on ``dataflows.example.com`` and ``list`` on ``pods``
and ``events`` in the DataFlow's namespace. Exit status: 0 when the DataFlow is Deployed and
healthy (every Pod Running and Ready, every connection published), 1 otherwise, 2 on a usage
error or when the DataFlow does not exist.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

import attrs

from kasugai.adapters.files import InputError
from kasugai.core import names
from kasugai.explain import MAX_EVENTS, MAX_PODS, Cause, Explanation, explain, render_text

__all__ = ["local_pod"]

_DEFAULT_KUBECONFIG = os.path.expanduser("~/.kube/config")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "explain", help="say why a DataFlow is not Deployed, root cause first"
    )
    parser.add_argument("dataflow", metavar="DATAFLOW", help="its name (or dataflow/NAME)")
    parser.add_argument(
        "-n", "--namespace", help="its namespace (default: the context's, else 'default')"
    )
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text")
    parser.add_argument(
        "--cluster", action="store_true", help="read the cluster, not the local runtime"
    )
    parser.add_argument(
        "--kubeconfig",
        default=os.environ.get("KUBECONFIG"),
        help="with --cluster: kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)",
    )
    parser.add_argument("--context", help="with --cluster: the kubeconfig context to use")
    parser.add_argument("--state-dir", metavar="DIR", help="local runtime (default: ./.kasugai)")
    parser.add_argument(
        "--journal", metavar="FILE", help="also show the transitions recorded in this journal"
    )
    parser.set_defaults(func=run)


def _name(text: str) -> str:
    kind, _, name = text.rpartition("/")
    if kind and kind.lower() not in ("dataflow", "dataflows", "dataflows.example.com", "df"):
        raise InputError(f"DATAFLOW: expected NAME or dataflow/NAME, got {text!r}")
    if not name:
        raise InputError("DATAFLOW: the name is empty")
    return name


def _not_found(name: str) -> int:
    """As kubectl says it."""
    print(
        f'Error from server (NotFound): dataflows.example.com "{name}" not found', file=sys.stderr
    )
    return 2


def _transitions(path: str, namespace: str, name: str) -> list[dict[str, Any]]:
    from kasugai.adapters.journal import read_journal
    from kasugai.core.events import Transitioned

    found = []
    for _, entry in read_journal(path):
        if not isinstance(entry, Transitioned):
            continue
        key = entry.object
        if (key.kind, key.namespace, key.name) == ("DataFlow", namespace, name):
            found.append(attrs.asdict(entry, recurse=False) | {"object": None})
    return found


# --- the cluster -----------------------------------------------------------------------------


def _api_client(kubeconfig: str, context: str | None) -> Any:
    from kubernetes import client, config

    configuration = client.Configuration()
    try:
        config.load_kube_config(
            config_file=kubeconfig, context=context, client_configuration=configuration
        )
    except (config.ConfigException, OSError) as error:
        raise config.ConfigException(f"{kubeconfig}: {error}") from error
    return client.ApiClient(configuration)


def _context_namespace(kubeconfig: str, context: str | None) -> str:
    from kubernetes import config

    try:
        contexts, active = config.list_kube_config_contexts(kubeconfig)
    except (config.ConfigException, OSError):
        return "default"
    chosen = next((c for c in contexts if c.get("name") == context), None) if context else active
    return str(((chosen or {}).get("context") or {}).get("namespace") or "default")


def _event_time(event: Mapping[str, Any]) -> str:
    return str(event.get("lastTimestamp") or event.get("eventTime") or "")


def _read_cluster(args: argparse.Namespace, name: str) -> tuple[int, Explanation | None]:
    from kubernetes.config import ConfigException

    from kasugai.adapters.kube.api import KubeApi, error_message
    from kasugai.adapters.kube.pacing import REQUEST_ERRORS

    kubeconfig = args.kubeconfig or _DEFAULT_KUBECONFIG
    namespace = args.namespace or _context_namespace(kubeconfig, args.context)
    try:
        with _api_client(kubeconfig, args.context) as api_client:
            api = KubeApi(api_client)
            dataflow = api.get("DataFlow", namespace, name)
            if dataflow is None:
                return _not_found(name), None
            pods, _ = api.list("Pod", namespace, f"{names.DATAFLOW_LABEL}={name}")
            pods = pods[:MAX_PODS]
            events: list[dict[str, Any]] = []
            subjects = [("DataFlow", name)] + [("Pod", p["metadata"]["name"]) for p in pods]
            for kind, subject in subjects:
                selector = f"involvedObject.kind={kind},involvedObject.name={subject}"
                found, _ = api.list("Event", namespace, field_selector=selector)
                events += found[-MAX_EVENTS:]
    except ConfigException as error:
        print(f"kasugai explain: error: kubeconfig: {error}", file=sys.stderr)
        return 2, None
    except REQUEST_ERRORS as error:
        print(f"kasugai explain: error: the cluster: {error_message(error)}", file=sys.stderr)
        return 2, None
    events.sort(key=_event_time)
    transitions = _transitions(args.journal, namespace, name) if args.journal else []
    return 0, explain(dataflow, pods, events, transitions, source="cluster")


# --- the local runtime ---------------------------------------------------------------------


def local_pod(pod: Mapping[str, Any]) -> dict[str, Any]:
    """A Pod of ``state.json`` in the shape of a Kubernetes Pod (what ``explain`` reads)."""
    statuses = []
    for container in pod.get("containers") or []:
        state = str(container.get("state") or "Waiting")
        reason = str(container.get("reason") or "")
        if state == "Running":
            shaped: dict[str, Any] = {"running": {}}
        elif state == "Terminated":
            code = container.get("lastExitCode")
            shaped = {"terminated": {"reason": reason, "exitCode": code}}
        else:
            shaped = {"waiting": {"reason": reason}}
        status: dict[str, Any] = {
            "name": container.get("name", ""),
            "ready": state == "Running",
            "restartCount": container.get("restartCount", 0),
            "state": shaped,
        }
        if container.get("lastExitCode") is not None and state != "Terminated":
            status["lastState"] = {"terminated": {"exitCode": container["lastExitCode"]}}
        statuses.append(status)
    ready = bool(statuses) and all(s["ready"] for s in statuses)
    return {
        "metadata": {"namespace": pod.get("namespace", ""), "name": pod.get("name", "")},
        "status": {
            "phase": pod.get("phase") or "Pending",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": statuses,
        },
    }


def _read_local(args: argparse.Namespace, name: str) -> tuple[int, Explanation | None]:
    from kasugai.adapters.local.layout import state_dir
    from kasugai.adapters.local.lock import holder
    from kasugai.adapters.local.snapshot import read_snapshot

    state = state_dir(args.state_dir)
    snapshot = read_snapshot(state)
    if snapshot is None:
        print(
            f"kasugai explain: error: no local runtime has run with state directory "
            f"{state.root}; start one with `kasugai up DIR`, or use --cluster",
            file=sys.stderr,
        )
        return 2, None
    found = [
        d
        for d in snapshot.get("dataflows", [])
        if d.get("name") == name
        and (args.namespace is None or d.get("namespace") == args.namespace)
    ]
    if not found:
        return _not_found(name), None
    if len(found) > 1:
        spaces = ", ".join(sorted(str(d.get("namespace")) for d in found))
        raise InputError(f"-n/--namespace: DataFlow {name} is in several namespaces ({spaces})")
    entry = found[0]
    namespace = str(entry.get("namespace"))
    dataflow = {"metadata": {"namespace": namespace, "name": name}, "status": entry.get("status")}
    pods = [
        local_pod(p)
        for p in snapshot.get("pods", [])
        if p.get("dataflow") == name and p.get("namespace") == namespace
    ]
    transitions = _transitions(args.journal, namespace, name) if args.journal else []
    result = explain(dataflow, pods, (), transitions, source="local")
    if holder(state) is None:  # the last known state of a runtime that is gone
        stopped = Cause(
            f"local runtime {state.root}",
            "NotRunning",
            "no supervisor runs: this is the last known state",
            "start it again with `kasugai up DIR`",
        )
        result = attrs.evolve(result, healthy=False, causes=(stopped, *result.causes))
    return 0, result


def run(args: argparse.Namespace) -> int:
    name = _name(args.dataflow)
    status, result = _read_cluster(args, name) if args.cluster else _read_local(args, name)
    if result is None:
        return status
    if args.output == "json":
        print(json.dumps(result.to_json(), indent=2))
    else:
        sys.stdout.write(render_text(result))
    return 0 if result.healthy else 1
