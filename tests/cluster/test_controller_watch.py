"""A watcher against the real API server: it lists, follows, and, when it lists again, reports
exactly what changed meanwhile. A real 410 Gone, from a compacted etcd, is
test_watch_expiry.py's."""

from __future__ import annotations

import queue

from kubernetes import client

from kasugai.adapters.kube.api import KubeApi
from kasugai.adapters.kube.observability import Metrics
from kasugai.adapters.kube.watchers import Delivery, Watcher, WatchTimeouts
from kasugai.core.events import Forgotten, ObjectKey, Observed


def _configmap(name: str) -> dict[str, object]:
    return {"metadata": {"name": name}, "data": {"n": "1"}}


def _next(deliveries: queue.Queue[Delivery], relisted: bool, timeout: float = 60) -> Delivery:
    while True:
        delivery = deliveries.get(timeout=timeout)
        if delivery.relisted == relisted:
            return delivery


def test_a_watcher_lists_follows_and_lists_again_on_410(
    kube: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube)
    core.create_namespaced_config_map(namespace, _configmap("a"))
    deliveries: queue.Queue[Delivery] = queue.Queue()
    metrics = Metrics()
    # The server ends each watch after a second or two, so that the watcher soon resumes.
    watcher = Watcher(
        KubeApi(kube), "ConfigMap", namespace, deliveries.put, metrics,
        timeouts=WatchTimeouts(watch=1),
    )  # fmt: skip
    watcher.start()
    try:
        listed = _next(deliveries, relisted=True)
        assert [(type(e), e.key.name) for e in listed.events] == [(Observed, "a")]
        assert watcher.state.synced and watcher.state.up

        core.create_namespaced_config_map(namespace, _configmap("b"))
        (added,) = _next(deliveries, relisted=False).events
        assert isinstance(added, Observed) and added.key.name == "b"
        assert added.body["metadata"]["managedFields"] == []  # only kasugai's Apply entry stays
        core.delete_namespaced_config_map("a", namespace)
        (gone,) = _next(deliveries, relisted=False).events
        assert gone == Forgotten("ConfigMap", namespace, "a")

        # White-box: a watcher listing again (as after a 410) reports against what it reported,
        # while b stayed as it was and another object vanished meanwhile.
        b_version = added.body["metadata"]["resourceVersion"]
        ghost = ObjectKey("ConfigMap", namespace, "ghost")
        relisting = Watcher(KubeApi(kube), "ConfigMap", namespace, deliveries.put, metrics)
        relisting._versions = {added.key: b_version, ghost: "1"}
        relisting.start()
        try:
            relisted = _next(deliveries, relisted=True)
            assert relisted.watch == relisting.name
            assert relisted.events == (Forgotten("ConfigMap", namespace, "ghost"),)  # b: same
            assert relisting.state.up
        finally:
            relisting.stop()
            relisting.join(15)
    finally:
        watcher.stop()
        watcher.join(15)
    assert not watcher._thread.is_alive()
