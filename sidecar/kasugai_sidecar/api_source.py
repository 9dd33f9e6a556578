"""Connection config from the Kubernetes API: list, then watch, ConfigMap ``ethcrl.<pod>``.

The official client is synchronous, so the watch runs in its own thread and hands each
``data.config`` to the event loop. The loop is the usual Kubernetes one: list with a field
selector on the one name, watch from the listed resourceVersion (bookmarks move it on), resume
from the last resourceVersion when a watch times out, list again on 410 Gone, and reconnect
with jittered exponential backoff after any failure (counted, and shown by ``/healthz`` until a
list succeeds again). Deletion is only logged: the function keeps its last destination.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

import kubernetes
import structlog
from kubernetes.client.rest import ApiException

from kasugai_sidecar.observability import RENDER_ERRORS, WATCH_RESTARTS, WatchHealth

log = structlog.get_logger("kasugai_sidecar.api_source")

WATCH_TIMEOUT_S = 60  # server-side end of each watch; it then resumes from resourceVersion
STALE_AFTER_S = 2 * WATCH_TIMEOUT_S + 30
CONNECT_TIMEOUT_S = 10
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0


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
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._supervise, name="configmap-watch", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Stop after the current request; the thread is a daemon, nobody waits for it."""
        self.stopping.set()

    def _supervise(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                self._list_and_watch()
            except _Gone:
                log.info("resourceVersion expired; listing again", configmap=self.name)
                continue
            except Exception as err:  # any failure: count it, show it, back off, reconnect
                failures += 1
                delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (failures - 1))
                delay *= random.uniform(0.8, 1.2)
                WATCH_RESTARTS.labels("configmap").inc()
                self.health.down(f"watch failed: {err}")
                log.warning(
                    "configmap watch failed; reconnecting",
                    configmap=self.name,
                    namespace=self.namespace,
                    error=str(err)[:500],
                    retry_in_s=round(delay, 2),
                )
                self.stopping.wait(delay)
                continue
            failures = 0

    def _list_and_watch(self) -> None:
        selector = f"metadata.name={self.name}"
        listed = self.core.list_namespaced_config_map(
            self.namespace,
            field_selector=selector,
            _request_timeout=(CONNECT_TIMEOUT_S, CONNECT_TIMEOUT_S * 3),
        )
        self.health.beat()
        if listed.items:
            self._on_object("LISTED", listed.items[0])
        else:
            log.info("configmap not there yet; watching for it", configmap=self.name)
        version = listed.metadata.resource_version
        while not self.stopping.is_set():
            watch = kubernetes.watch.Watch()
            try:
                for event in watch.stream(
                    self.core.list_namespaced_config_map,
                    self.namespace,
                    field_selector=selector,
                    resource_version=version,
                    allow_watch_bookmarks=True,
                    timeout_seconds=WATCH_TIMEOUT_S,
                    _request_timeout=(CONNECT_TIMEOUT_S, WATCH_TIMEOUT_S + 15),
                ):
                    self.health.beat()
                    if event["type"] != "BOOKMARK":
                        self._on_object(event["type"], event["object"])
                    if self.stopping.is_set():
                        watch.stop()
            except ApiException as err:
                if err.status == 410:
                    raise _Gone from err
                raise
            version = watch.resource_version or version
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
