"""``kasugai diff --cluster``: what the controller would write for some files, asked of the cluster.

The files are the inputs; the live cluster supplies the rest, as the controller would see it:
FunctionChains, FunctionTypes and ConfigMaps of the files' namespaces and ``default`` (the files
win where both have an object), the live DataFlows' uids (for ownerReferences), and kasugai's
inventory objects (the facts that give addresses, and what would be deleted). The core plans and
diffs as offline; then every create and change is sent as a Server-Side Apply with
``dryRun=All``, so admission and validation run for real, and what is shown is the server's
version of our fields. Fields kasugai applied before and would now remove are removed by a
dry-run JSON patch, and shown. A change the server would not make (its answer equals the live
object) is dropped. Deletions are dry-run deletes; a Pod to be replaced (its spec changed, and Pod
specs are immutable) is a dry-run delete and a dry-run create of the new one. Nothing is
persisted.

A DataFlow that is not in the cluster yet has no uid; its objects are dry-run with a placeholder
uid in their ownerReference (the server does not check that the owner exists).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from kubernetes.client.exceptions import ApiException

from kasugai.adapters.files import Loaded
from kasugai.adapters.kube.api import KubeApi, error_message
from kasugai.adapters.kube.controller import INVENTORY_SELECTOR, WRITTEN_KINDS
from kasugai.adapters.kube.watchers import observed
from kasugai.core import fieldsets
from kasugai.core.diff import Action, diff, project
from kasugai.core.engine import Engine
from kasugai.core.events import Observed
from kasugai.core.fieldsets import Removal
from kasugai.core.inventory import copy_json
from kasugai.core.options import PlanOptions
from kasugai.core.ownership import owned_objects

__all__ = ["ClusterDiff", "diff_cluster"]

PLACEHOLDER_UID = "00000000-0000-0000-0000-000000000000"
_INPUT_KINDS = ("FunctionChain", "FunctionType", "ConfigMap")


@attrs.frozen
class ClusterDiff:
    """The changes (as the server would make them), the engine that planned them, and the
    objects the server refused (one line each)."""

    actions: list[Action]
    engine: Engine
    errors: list[str]


def diff_cluster(api: KubeApi, inputs: list[Loaded], options: PlanOptions) -> ClusterDiff:
    files = [item.event for item in inputs]
    namespaces = sorted({event.namespace for event in files} | {"default"})
    live = _live(api, namespaces)
    dataflows = [event for event in files if event.kind == "DataFlow"]
    engine = Engine(options)
    engine.apply_all([*live, *(_with_live_uid(api, event) for event in files)])
    actions: list[Action] = []
    for dataflow in dataflows:
        plan = engine.plan_of(dataflow.key)
        desired = list(plan.objects) if plan else []
        actions.extend(diff(desired, owned_objects(engine.world, dataflow.key, desired)))
    checked: list[Action] = []
    errors: list[str] = []
    for action in actions:
        try:
            answer = _dry_run(api, action)
        except ApiException as error:
            errors.append(f"{action.key}: the API server refused it: {error_message(error)}")
            continue
        if answer is not None:
            checked.append(answer)
    return ClusterDiff(checked, engine, errors)


def _live(api: KubeApi, namespaces: Iterable[str]) -> list[Observed]:
    found: list[Observed] = []
    for namespace in namespaces:
        for kind in _INPUT_KINDS:
            items, _ = api.list(kind, namespace)
            found.extend(observed(kind, body) for body in items)
        for kind in WRITTEN_KINDS:
            items, _ = api.list(kind, namespace, INVENTORY_SELECTOR)
            found.extend(observed(kind, body) for body in items)
    return found


def _with_live_uid(api: KubeApi, event: Observed) -> Observed:
    """A file's DataFlow with the uid of its live counterpart, or the placeholder."""
    if event.kind != "DataFlow":
        return event
    live = api.get("DataFlow", event.namespace, event.name)
    uid = ((live or {}).get("metadata") or {}).get("uid") or PLACEHOLDER_UID
    body = copy_json(dict(event.body))
    body.setdefault("metadata", {})["uid"] = uid
    return Observed(event.kind, event.namespace, event.name, body)


def _dry_run(api: KubeApi, action: Action) -> Action | None:
    """The action as the server would carry it out; None if it would change nothing."""
    key = action.key
    if action.verb in ("delete", "replace"):
        uid = str(((action.actual or {}).get("metadata") or {}).get("uid", ""))
        api.delete(key.kind, key.namespace, key.name, uid=uid, dry_run=True)
    if action.verb == "delete":
        return action
    if action.verb == "replace":
        # The new Pod, created in a dry run: 409 AlreadyExists comes from storage, after
        # admission and validation passed; anything else is the server refusing it.
        assert action.desired is not None
        try:
            api.create(action.desired, dry_run=True)
        except ApiException as error:
            if error.status != 409:
                raise
        return action
    assert action.desired is not None
    removed = _dry_run_removals(api, action)
    answer = api.apply(action.desired, dry_run=True)
    shown = project(answer, _without_placeholder(action.desired))
    if (
        not removed
        and action.actual is not None
        and project(action.actual, action.desired) == shown
    ):
        return None
    return Action(action.verb, key, shown, action.actual, removed)


def _dry_run_removals(api: KubeApi, action: Action) -> tuple[Removal, ...]:
    """The fields the controller would remove (read fresh: another manager may own them too),
    removed in a dry run."""
    key = action.key
    if not action.removed or action.desired is None:
        return ()
    live = api.get(key.kind, key.namespace, key.name)
    if live is None:
        return ()
    found = fieldsets.removals(
        action.desired, live, fieldsets.applied_fields(live), fieldsets.other_fields(live)
    )
    if found:
        api.patch(
            key.kind, key.namespace, key.name, fieldsets.json_patch(live, found), dry_run=True
        )
    return tuple(found)


def _without_placeholder(desired: Mapping[str, Any]) -> Mapping[str, Any]:
    """``desired`` without the placeholder uid, so that the diff does not show it."""
    refs = (desired.get("metadata") or {}).get("ownerReferences") or []
    if not any(ref.get("uid") == PLACEHOLDER_UID for ref in refs):
        return desired
    shown: dict[str, Any] = copy_json(dict(desired))
    for ref in shown["metadata"]["ownerReferences"]:
        if ref.get("uid") == PLACEHOLDER_UID:
            del ref["uid"]
    return shown
