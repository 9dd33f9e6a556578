"""Connection config from the Kubernetes API: list, then watch, ConfigMap ``ethcrl.<pod>``.

The requests go over urllib3 (``kube_http``: the official client would import every API model
for them), blocking, so the watch runs in its own thread and hands each ``data.config`` to the
event loop. The loop is the usual Kubernetes one: list with a field
selector on the one name, watch from the listed resourceVersion (events and bookmarks move it
on), and when a watch ends or breaks, watch again from the last resourceVersion, so nothing that
happened meanwhile is missed; list again only on 410 Gone. Failures reconnect with jittered
exponential backoff, counted, and shown by ``/healthz`` until the watch is back. Deletion is
only logged: the function keeps its last destination.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import structlog
import urllib3

from kasugai.backoff import Backoff
from kasugai_sidecar.kube_http import Api, ApiError, close_watch, error_status, events
from kasugai_sidecar.observability import RENDER_ERRORS, WATCH_RESTARTS, WatchHealth

log = structlog.get_logger("kasugai_sidecar.api_source")

WATCH_TIMEOUT_S = 60  # server-side end of each watch; it then resumes from resourceVersion
STALE_AFTER_S = 2 * WATCH_TIMEOUT_S + 30
CONNECT_TIMEOUT_S = 10
RECONNECT = Backoff(initial=0.5, maximum=30.0, jitter=0.2)


class _Gone(Exception):
    """The resourceVersion is too old (410): list again."""


class ConfigMapWatch:
    """Follows one ConfigMap in a daemon thread; ``deliver`` is called from that thread."""

    def __init__(
        self,
        api: Api,
        namespace: str,
        name: str,
        deliver: Callable[[str], None],
        health: WatchHealth,
    ) -> None:
        self.api = api
        self.path = f"/api/v1/namespaces/{quote(namespace, safe='')}/configmaps"
        self.namespace = namespace
        self.name = name
        self.deliver = deliver
        self.health = health
        self.selector = f"metadata.name={name}"
        self.version: str | None = None  # where the next watch resumes; None: list first
        self.current: urllib3.BaseHTTPResponse | None = None  # the watch's open stream
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._supervise, name="configmap-watch", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Stop the thread: shutting the watch's socket down ends a blocked read."""
        self.stopping.set()
        current = self.current
        if current is not None:
            with contextlib.suppress(OSError, ValueError, RuntimeError):  # it ended meanwhile
                current.shutdown()
        self.thread.join(timeout=5)

    def _supervise(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                if self.version is None:
                    self._list()
                self._watch()
            except _Gone:
                log.info("resourceVersion expired; listing again", configmap=self.name)
                self.version = None
                continue
            except Exception as err:  # any failure: count it, show it, back off, resume
                if self.stopping.is_set():
                    return  # stop() broke the connection on purpose
                failures += 1
                delay = RECONNECT.delay(failures)
                WATCH_RESTARTS.labels("configmap").inc()
                self.health.down(f"watch failed: {err}")
                log.warning(
                    "configmap watch failed; reconnecting",
                    configmap=self.name,
                    namespace=self.namespace,
                    error=str(err)[:500],
                    retry_in_s=round(delay, 2),
                    resume_from=self.version,
                )
                self.stopping.wait(delay)
                continue
            failures = 0

    def _list(self) -> None:
        listed = self.api.request(
            "GET",
            self.path,
            query={"fieldSelector": self.selector},
            timeout=(CONNECT_TIMEOUT_S, CONNECT_TIMEOUT_S * 3),
        )
        self.health.beat()
        items = listed.get("items") or []
        if items:
            self._on_object("LISTED", items[0])
        else:
            log.info("configmap not there yet; watching for it", configmap=self.name)
        self.version = (listed.get("metadata") or {}).get("resourceVersion")

    def _watch(self) -> None:
        """One watch from ``self.version``, which follows every event (bookmarks too)."""
        query = {
            "fieldSelector": self.selector,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": WATCH_TIMEOUT_S,
            **({"resourceVersion": self.version} if self.version else {}),
        }
        try:
            response = self.api.watch(
                self.path, query, timeout=(CONNECT_TIMEOUT_S, WATCH_TIMEOUT_S + 15)
            )
        except ApiError as err:
            if err.status == 410:
                raise _Gone from err
            raise
        self.current = response
        self.health.beat()  # the server accepted the watch: it is alive again
        try:
            for event in events(response):
                self.health.beat()
                if event.get("type") == "ERROR":
                    error = error_status(event)
                    if error.status == 410:
                        raise _Gone from error
                    raise error
                version = (event["object"].get("metadata") or {}).get("resourceVersion")
                self.version = version or self.version
                if event.get("type") != "BOOKMARK":
                    self._on_object(str(event.get("type")), event["object"])
                if self.stopping.is_set():
                    return
        finally:
            self.current = None
            close_watch(response)
        self.health.beat()  # a watch that ended on its timeout is healthy

    def _on_object(self, kind: str, configmap: dict[str, Any]) -> None:
        if kind == "DELETED":
            log.warning("configmap deleted; keeping the last rendered files", configmap=self.name)
            return
        data = configmap.get("data") or {}
        if not isinstance(data.get("config"), str):
            RENDER_ERRORS.labels("config").inc()
            log.error(
                "configmap has no data.config; keeping the last rendered files",
                configmap=self.name,
                keys=sorted(data),
            )
            return
        self.deliver(data["config"])
