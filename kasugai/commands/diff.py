"""``kasugai diff -f PATH... [--live PATH... | --cluster [--kubeconfig K]]``: what would change.

kubectl-diff conventions: for each object a header line ``Kind/namespace/name created``
(``configured``, ``deleted``), then a unified diff of its YAML, showing only the fields kasugai
sets, or set last time and would remove (from its ``managedFields`` entry, when the live
objects carry one), coloured like ``git diff`` on a terminal (``NO_COLOR`` turns it off); exit
status 0 when nothing would change, 1 when something would, 2 on error. The live objects
(``--live``, e.g. ``kubectl get pods,services,configmaps -o yaml`` output) are both the current
state and facts for the plan. With ``--cluster`` the live cluster is both, and the changes are
what a Server-Side Apply dry run says (``kasugai.adapters.kube.cluster_diff``); an object the
server refuses is an error (exit 2). Output and exit codes are the same.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections.abc import Sequence
from typing import Any

from kasugai.adapters.files import InputError, load_objects, to_yaml
from kasugai.commands.common import (
    add_filename_option,
    add_plan_options,
    plan_options,
    report_errors,
)
from kasugai.core.diff import Action, diff, shown_before
from kasugai.core.engine import Engine
from kasugai.core.ownership import owned_objects

__all__ = ["coloured", "diff_exit_code", "render_diff"]

_HEADERS = {
    "create": "created",
    "patch": "configured",
    "replace": "configured",
    "delete": "deleted",
}
_HIDDEN_METADATA = ("managedFields",)
_DEFAULT_KUBECONFIG = os.path.expanduser("~/.kube/config")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "diff", help="show what applying the plan of some files would change"
    )
    add_filename_option(parser, "file or directory of inputs (and facts); repeatable")
    parser.add_argument(
        "--live",
        action="append",
        default=[],
        metavar="PATH",
        help="file or directory of the objects as they are now; repeatable",
    )
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="diff against the live cluster (Server-Side Apply dry run), not --live files",
    )
    parser.add_argument(
        "--kubeconfig",
        default=os.environ.get("KUBECONFIG"),
        help="with --cluster: kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)",
    )
    add_plan_options(parser)
    parser.set_defaults(func=run)


def _shown(obj: Any) -> list[str]:
    if obj is None:
        return []
    if isinstance(obj, dict) and isinstance(obj.get("metadata"), dict):
        meta = {k: v for k, v in obj["metadata"].items() if k not in _HIDDEN_METADATA}
        obj = {**obj, "metadata": meta}
    return to_yaml(obj).splitlines(keepends=True)


def render_diff(actions: Sequence[Action]) -> str:
    """Header line and unified YAML diff per action (a changed object shows only our fields)."""
    out = []
    for action in actions:
        name = f"{action.key.kind}/{action.key.namespace}/{action.key.name}"
        out.append(f"{name} {_HEADERS[action.verb]}\n")
        before = action.actual
        if action.actual is not None and action.desired is not None:
            before = shown_before(action.actual, action.desired, action.removed)
        lines = difflib.unified_diff(
            _shown(before),
            _shown(action.desired),
            fromfile=f"live/{name}" if action.actual is not None else "/dev/null",
            tofile=f"desired/{name}" if action.desired is not None else "/dev/null",
        )
        out.extend(line if line.endswith("\n") else line + "\n" for line in lines)
    return "".join(out)


_COLOURS = (("+++", "1"), ("---", "1"), ("@@", "36"), ("+", "32"), ("-", "31"))


def coloured(text: str) -> str:
    """``text`` with git diff's colours: headers bold, hunks cyan, additions green, removals red."""
    out = []
    for line in text.splitlines(keepends=True):
        code = next((c for prefix, c in _COLOURS if line.startswith(prefix)), "")
        if not code and not line.startswith(" "):
            code = "1"  # an object's header line
        body = line.rstrip("\n")
        out.append(f"\x1b[{code}m{body}\x1b[0m{line[len(body) :]}" if code else line)
    return "".join(out)


def _write_diff(actions: Sequence[Action]) -> None:
    text = render_diff(actions)
    if sys.stdout.isatty() and not os.environ.get("NO_COLOR"):
        text = coloured(text)
    sys.stdout.write(text)


def diff_exit_code(actions: Sequence[Action]) -> int:
    """kubectl diff: 0 when nothing would change, 1 when something would."""
    return 1 if actions else 0


def run(args: argparse.Namespace) -> int:
    if args.cluster:
        if args.live:
            raise InputError(
                "--live and --cluster exclude each other (the cluster is the live state)"
            )
        return _run_cluster(args)
    inputs = load_objects(args.filename)
    live = load_objects(args.live)
    engine = Engine(plan_options(args))
    engine.apply_all([item.event for item in inputs + live])
    world = engine.world
    actions = [
        action
        for plan in engine.plans()
        for action in diff(plan.objects, owned_objects(world, plan.key, plan.objects))
    ]
    _write_diff(actions)
    if report_errors(engine, inputs):
        return 2
    return diff_exit_code(actions)


def _run_cluster(args: argparse.Namespace) -> int:
    inputs = load_objects(args.filename)
    # Imported here: the kubernetes client is slow to import and only --cluster needs it.
    from kubernetes.config import ConfigException

    from kasugai.adapters.kube.api import KubeApi, error_message, load_api_client
    from kasugai.adapters.kube.cluster_diff import diff_cluster
    from kasugai.adapters.kube.pacing import REQUEST_ERRORS

    try:
        with load_api_client(args.kubeconfig or _DEFAULT_KUBECONFIG) as api_client:
            found = diff_cluster(KubeApi(api_client), inputs, plan_options(args))
    except ConfigException as error:
        print(f"kasugai diff: error: kubeconfig: {error}", file=sys.stderr)
        return 2
    except REQUEST_ERRORS as error:
        print(f"kasugai diff: error: the cluster: {error_message(error)}", file=sys.stderr)
        return 2
    _write_diff(found.actions)
    for line in found.errors:
        print(f"error: {line}", file=sys.stderr)
    if report_errors(found.engine, inputs) or found.errors:
        return 2
    return diff_exit_code(found.actions)
