"""Connection config from the Kubernetes API: list, then watch, ConfigMap ``ethcrl.<pod>``.

The official client is synchronous, so the watch runs in its own thread and hands each
``data.config`` to the event loop. The loop is the usual Kubernetes one: list with a field
selector on the one name, watch from the listed resourceVersion (events and bookmarks move it
on), and when a watch ends or breaks, watch again from the last resourceVersion, so nothing that
happened meanwhile is missed; list again only on 410 Gone. Failures reconnect with jittered
exponential backoff, counted, and shown by ``/healthz`` until the watch is back. Deletion is
only logged: the function keeps its last destination.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import kubernetes
import structlog
from kubernetes.client.exceptions import ApiException

from kasugai.backoff import Backoff
from kasugai_sidecar.observability import RENDER_ERRORS, WATCH_RESTARTS, WatchHealth

log = structlog.get_logger("kasugai_sidecar.api_source")

WATCH_TIMEOUT_S = 60  # server-side end of each watch; it then resumes from resourceVersion
STALE_AFTER_S = 2 * WATCH_TIMEOUT_S + 30
CONNECT_TIMEOUT_S = 10
RECONNECT = Backoff(initial=0.5, maximum=30.0, jitter=0.2)


def load_api_client(kubeconfig: str | None) -> kubernetes.client.ApiClient:
    """A client from ``kubeconfig`` when given, else from the Pod's service account."""
    configuration = kubernetes.client.Configuration()
    if kubeconfig:
        kubernetes.config.load_kube_config(
            config_file=kubeconfig, client_configuration=configuration
        )
    else:
        kubernetes.config.load_incluster_config(client_configuration=configuration)
    return kubernetes.client.ApiClient(configuration)


class _Gone(Exception):
    """The resourceVersion is too old (410): list again."""


class ConfigMapWatch:
    """Follows one ConfigMap in a daemon thread; ``deliver`` is called from that thread."""

    def __init__(
        self,
        api: kubernetes.client.ApiClient,
        namespace: str,
        name: str,
        deliver: Callable[[str], None],
        health: WatchHealth,
    ) -> None:
        self.core = kubernetes.client.CoreV1Api(api)
        self.namespace = namespace
        self.name = name
        self.deliver = deliver
        self.health = health
        self.selector = f"metadata.name={name}"
        self.version: str | None = None  # where the next watch resumes; None: list first
        self.current: kubernetes.watch.Watch | None = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._supervise, name="configmap-watch", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Stop the thread: ``Watch.stop`` shuts the socket down, which ends a blocked read."""
        self.stopping.set()
        if self.current is not None:
            self.current.stop()
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
        listed = self.core.list_namespaced_config_map(
            self.namespace,
            field_selector=self.selector,
            _request_timeout=(CONNECT_TIMEOUT_S, CONNECT_TIMEOUT_S * 3),
        )
        self.health.beat()
        if listed.items:
            self._on_object("LISTED", listed.items[0])
        else:
            log.info("configmap not there yet; watching for it", configmap=self.name)
        self.version = listed.metadata.resource_version if listed.metadata else None

    def _open_watch(self, *args: Any, **kwargs: Any) -> Any:
        """The watch request; once the server accepts it, the watch is alive again."""
        response = self.core.list_namespaced_config_map(*args, **kwargs)
        self.health.beat()
        return response

    def _watch(self) -> None:
        """One watch from ``self.version``, which follows every event (bookmarks too)."""
        watch = kubernetes.watch.Watch(return_type=kubernetes.client.V1ConfigMap)
        self.current = watch
        try:
            for event in watch.stream(
                self._open_watch,
                self.namespace,
                field_selector=self.selector,
                resource_version=self.version,
                allow_watch_bookmarks=True,
                timeout_seconds=WATCH_TIMEOUT_S,
                _request_timeout=(CONNECT_TIMEOUT_S, WATCH_TIMEOUT_S + 15),
            ):
                self.health.beat()
                self.version = watch.resource_version or self.version
                if event["type"] != "BOOKMARK":
                    self._on_object(event["type"], event["object"])
                if self.stopping.is_set():
                    watch.stop()
        except ApiException as err:
            if err.status == 410:
                raise _Gone from err
            raise
        self.version = watch.resource_version or self.version
        self.health.beat()  # a watch that ended on its timeout is healthy

    def _on_object(self, kind: str, configmap: Any) -> None:
        if kind == "DELETED":
            log.warning("configmap deleted; keeping the last rendered files", configmap=self.name)
            return
        data = configmap.data or {}
        if "config" not in data:
            RENDER_ERRORS.labels("config").inc()
            log.error(
                "configmap has no data.config; keeping the last rendered files",
                configmap=self.name,
                keys=sorted(data),
            )
            return
        self.deliver(data["config"])
