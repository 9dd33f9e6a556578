"""What the controller wrote and has not seen back yet, and what it tried last.

The reconcile loop folds the server's answer to each write in at once, so that the next pass
sees it without waiting for the watch. Three records make that safe:

* expected versions: the resourceVersion of each answer. The watch is ordered, so its events
  for that object are older until the one with that version arrives; they are skipped, or a
  rewired ConfigMap would look stale for a moment and be written twice. A relist is the truth
  and always taken.
* deletions in progress: an object deleted but still seen gets nothing more until the watch
  says it is gone (a graceful Pod deletion takes a while); only then is a replaced Pod created.
* last attempts: the same desired object against the same observed version is not sent again,
  whether it succeeded (the server normalized a field the diff cannot see, e.g. a quantity) or
  was refused (it would be refused again, until the reconcile loop's backoff ``retry``s it: what
  refused it may have changed). A replaced Pod made of the same desired spec is not replaced
  again either: what differs are the server's defaults.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from kasugai.core.diff import Action
from kasugai.core.events import Forgotten, ObjectKey, Observed

__all__ = ["Ledger", "fingerprint", "uid_of", "version_of"]


def version_of(body: Mapping[str, Any] | None) -> str:
    return str(((body or {}).get("metadata") or {}).get("resourceVersion", ""))


def uid_of(body: Mapping[str, Any] | None) -> str:
    return str(((body or {}).get("metadata") or {}).get("uid", ""))


def fingerprint(body: Mapping[str, Any] | None) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class Ledger:
    """Owned by the reconcile loop's thread, like the engine."""

    def __init__(self) -> None:
        self._expected: dict[ObjectKey, str] = {}
        self._deleting: dict[ObjectKey, str] = {}  # key -> uid of the deleted incarnation
        # (object, "" or "status") -> (desired fingerprint, resourceVersion, uid)
        self._attempts: dict[tuple[ObjectKey, str], tuple[str, str, str]] = {}

    def admit(self, event: Observed | Forgotten, relisted: bool) -> bool:
        """False for a watch event older than, or equal to, an answer already folded in."""
        key = event.key
        if isinstance(event, Forgotten):  # gone: nothing of it to remember
            self._deleting.pop(key, None)
            self._expected.pop(key, None)
            self._attempts.pop((key, ""), None)
            self._attempts.pop((key, "status"), None)
            return True
        if key in self._deleting and self._deleting[key] != uid_of(event.body):
            del self._deleting[key]  # a new object took the name
        expected = self._expected.get(key)
        if expected is None:
            return True
        if relisted or version_of(event.body) == expected:
            del self._expected[key]
            return relisted
        return False

    def expect(self, key: ObjectKey, version: str) -> None:
        self._expected[key] = version

    def deleted(self, key: ObjectKey, uid: str) -> None:
        self._deleting[key] = uid

    def settled(self, action: Action) -> bool:
        """Nothing to send now: the object is being deleted, or this exact apply was tried."""
        if action.key in self._deleting:
            return True
        if (action.actual or {}).get("metadata", {}).get("deletionTimestamp"):
            return True
        tried = self._attempts.get((action.key, ""))
        if tried is None or tried[0] != fingerprint(action.desired):
            return False
        if action.verb == "replace":
            return tried[2] == uid_of(action.actual)
        return action.verb in ("create", "patch") and tried[1] == version_of(action.actual)

    def applied(self, action: Action, answer: Mapping[str, Any]) -> None:
        self._attempts[(action.key, "")] = (
            fingerprint(action.desired),
            version_of(answer),
            uid_of(answer),
        )

    def refused(self, action: Action) -> None:
        if action.desired is not None:
            self._attempts[(action.key, "")] = (
                fingerprint(action.desired),
                version_of(action.actual),
                "",
            )

    def retry(self, key: ObjectKey) -> None:
        """Forget the last attempt at ``key``: its next write is sent, even if it is the same."""
        self._attempts.pop((key, ""), None)

    def status_tried(self, key: ObjectKey, status: Mapping[str, Any], version: str) -> bool:
        """This status was sent (or refused) for the object at this version already."""
        return self._attempts.get((key, "status")) == (fingerprint(status), version, "")

    def status_sent(self, key: ObjectKey, status: Mapping[str, Any], version: str) -> None:
        """Sent and answered at ``version``, or refused for the object at ``version``."""
        self._attempts[(key, "status")] = (fingerprint(status), version, "")
