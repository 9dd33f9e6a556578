"""Watches: list, then watch from the listed resourceVersion, turning objects into core events.

One ``Watcher`` thread follows one kind in one namespace (or all), the Kubernetes way: list
(page by page), then watch from the list's resourceVersion with bookmarks (which move the
resume point on while nothing changes), resume from the last resourceVersion when the server
ends the watch (its timeout is jittered, as client-go does), list again on 410 Gone, and give up
on a silent connection after an inactivity timeout (the server sends a bookmark every minute).
Any failure is counted, shown in health (``WatchState``) and followed by a jittered exponential
backoff and a fresh start; the thread only ends when the controller stops.

Objects become ``Observed``/``Forgotten`` events in ``Delivery`` messages on the reconcile loop's
queue. A (re)list is one ``Delivery`` with ``relisted`` set: the objects that changed since the
watcher last reported them, and ``Forgotten`` for the ones gone meanwhile. The first one tells
the loop that this watch is synced. Of ``managedFields`` only kasugai's own Apply entry is kept
(what it applied last time, which its diff compares with); the others are dropped on the way
in, as they are half the size of a typical object.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import structlog
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines
from urllib3 import HTTPResponse

from kasugai.adapters.kube.api import KubeApi, error_message
from kasugai.adapters.kube.observability import Metrics
from kasugai.backoff import Backoff
from kasugai.core import bounded, fieldsets
from kasugai.core.convert import json_type
from kasugai.core.events import Forgotten, ObjectKey, Observed

__all__ = ["Delivery", "WatchState", "WatchTimeouts", "Watcher", "observed", "watch_name"]

log = structlog.get_logger("kasugai.controller")


@attrs.frozen
class WatchTimeouts:
    """Seconds: server-side watch length (jittered up to twice), silence before reconnecting."""

    watch: float = 300.0
    inactivity: float = 150.0
    connect: float = 10.0


@attrs.frozen
class Delivery:
    """Events from one watch; ``relisted``: the result of a full list (the first one syncs)."""

    watch: str
    events: tuple[Observed | Forgotten, ...]
    relisted: bool


@attrs.define
class WatchState:
    """Health of one watch, read by the probes from other threads."""

    name: str
    up: bool = False
    synced: bool = False
    reason: str = "not started"
    restarts: int = 0


class _Gone(Exception):
    """The resourceVersion to resume from is too old (410 Gone): list again."""


def watch_name(kind: str, namespace: str | None) -> str:
    """How health, metrics and logs name a watch: ``Pod/ns`` or ``Pod/*`` for all."""
    return f"{kind}/{namespace or '*'}"


def observed(kind: str, body: dict[str, Any]) -> Observed:
    """The event for an object from the API; of its managedFields, kasugai's Apply entry only."""
    meta = body.get("metadata") or {}
    if "managedFields" in meta:
        meta["managedFields"] = fieldsets.kept_entries(meta["managedFields"] or [])
    return Observed(kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""), body)


class Watcher:
    """Follows ``kind`` in ``namespace`` (None: all) and hands events to ``deliver``."""

    def __init__(
        self,
        api: KubeApi,
        kind: str,
        namespace: str | None,
        deliver: Callable[[Delivery], None],
        metrics: Metrics,
        *,
        label_selector: str = "",
        field_selector: str = "",
        name: str = "",
        timeouts: WatchTimeouts | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.api = api
        self.kind = kind
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.deliver = deliver
        self.metrics = metrics
        self.timeouts = timeouts or WatchTimeouts()
        self.backoff = backoff or Backoff(initial=0.5, maximum=30.0, jitter=0.2)
        self.name = name or watch_name(kind, namespace)
        self.state = WatchState(self.name)
        self._versions: dict[ObjectKey, str] = {}  # what we reported: key -> resourceVersion
        self._resume_from = ""
        self._stopping = threading.Event()
        self._response: HTTPResponse | None = None
        self._thread = threading.Thread(target=self._supervise, name=f"watch {self.name}")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """End the current request at once (its socket is shut) and the thread with it."""
        self._stopping.set()
        response = self._response
        if response is not None:
            response.shutdown()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _supervise(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                if not self._resume_from:
                    self._relist()
                self._stream()
                failures = 0
            except _Gone:
                log.info("watch expired (410 Gone); listing again", watch=self.name)
                self._resume_from = ""
            except Exception as error:
                if self._stopping.is_set():
                    break
                failures += 1
                delay = self.backoff.delay(failures)
                self.state.up = False
                self.state.reason = error_message(error)[:300]
                self.state.restarts += 1
                self.metrics.watch_up.labels(self.name).set(0)
                self.metrics.watch_restarts.labels(self.name).inc()
                log.warning(
                    "watch failed; restarting",
                    watch=self.name,
                    error=self.state.reason,
                    retry_in_s=round(delay, 2),
                    resume_from=self._resume_from or None,
                )
                self._stopping.wait(delay)
        self.state.up = False
        self.state.reason = "stopped"

    def _relist(self) -> None:
        items, version = self.api.list(
            self.kind, self.namespace, self.label_selector, self.field_selector
        )
        seen: dict[ObjectKey, str] = {}
        events: list[Observed | Forgotten] = []
        for body in items:
            event = observed(self.kind, body)
            version_of = str(event.body["metadata"].get("resourceVersion", ""))
            seen[event.key] = version_of
            if self._versions.get(event.key) != version_of:
                events.append(event)
        events.extend(
            Forgotten(key.kind, key.namespace, key.name) for key in self._versions.keys() - seen
        )
        self._versions = seen
        self._resume_from = version
        self.deliver(Delivery(self.name, tuple(events), relisted=True))
        self.state.synced = True
        self._mark_up()
        log.info("listed", watch=self.name, objects=len(items), changed=len(events))

    def _mark_up(self) -> None:
        """Listed, or a watch request accepted: the watch works (again)."""
        self.state.up = True
        self.state.reason = ""
        self.metrics.watch_up.labels(self.name).set(1)

    def _stream(self) -> None:
        """One watch request, from ``_resume_from`` until the server ends it."""
        query = [
            ("resourceVersion", self._resume_from),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(int(self.timeouts.watch * random.uniform(1.0, 2.0)))),
        ]
        if self.label_selector:
            query.append(("labelSelector", self.label_selector))
        if self.field_selector:
            query.append(("fieldSelector", self.field_selector))
        timeout = (self.timeouts.connect, self.timeouts.inactivity)
        response = self.api.watch(self.kind, self.namespace, query, timeout)
        self._response = response
        self._mark_up()
        try:
            if self._stopping.is_set():  # stop() came before the response was kept
                return
            for line in iter_resp_lines(response):
                if line.strip():
                    self._take_line(line)
        finally:
            self._response = None
            response.release_conn()

    def _take_line(self, line: str) -> None:
        """One line of the watch stream. One that cannot be read is skipped (logged, counted):
        a hostile object must not restart the watch, which would read it again, in a loop."""
        try:
            event = bounded.load_api_json(line, bounded.API)
        except bounded.ParseError as error:
            self._skip(f"unreadable watch event: {error}")
            return
        if not isinstance(event, Mapping) or not isinstance(event.get("object") or {}, Mapping):
            self._skip(f"watch event is {json_type(event)}, not an object with an object")
            return
        meta = (event.get("object") or {}).get("metadata") or {}
        if not isinstance(meta, Mapping):
            self._skip(f"watch event's metadata is {json_type(meta)}")
            return
        if event.get("type") == "DELETED" and not isinstance(meta.get("name"), str):
            self._skip("a DELETED event without metadata.name")
            return
        self._take(event)

    def _skip(self, reason: str) -> None:
        self.metrics.watch_skipped.labels(self.name).inc()
        log.error("watch event skipped", watch=self.name, reason=reason)

    def _take(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        body = event.get("object") or {}
        if kind == "ERROR":
            if body.get("code") == 410:
                raise _Gone
            raise ApiException(status=body.get("code"), reason=body.get("message"))
        meta = body.get("metadata") or {}
        version = str(meta.get("resourceVersion", ""))
        if version:
            self._resume_from = version
        if kind == "BOOKMARK":
            return
        delivered: Observed | Forgotten
        if kind == "DELETED":
            delivered = Forgotten(self.kind, str(meta.get("namespace") or ""), meta["name"])
            self._versions.pop(delivered.key, None)
        else:
            delivered = observed(self.kind, body)
            self._versions[delivered.key] = version
        self.deliver(Delivery(self.name, (delivered,), relisted=False))
