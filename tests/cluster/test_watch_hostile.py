"""A watcher against the real API server, given objects beyond kasugai's limits: it lists and
follows them without a restart, the over-limit part marked, and skips (and counts) a watch line
it cannot read at all."""

from __future__ import annotations

import json
import queue

from kubernetes import client

from kasugai.adapters.kube.api import RESOURCES, KubeApi
from kasugai.adapters.kube.observability import Metrics
from kasugai.adapters.kube.watchers import Delivery, Watcher, WatchTimeouts
from kasugai.core import bounded
from kasugai.core.events import Observed
from kasugai.testing import EphemeralCluster
from kasugai.testing.hostile import MARKER


def _create_dataflow(api: KubeApi, namespace: str, name: str, depth: int) -> None:
    """A DataFlow nested ``depth`` deep in a free-form field, sent as text: the client's own
    serializer recurses, the API server accepts it (YAML is a superset of JSON)."""
    deep = "[" * depth + json.dumps(MARKER) + "]" * depth
    text = (
        '{"apiVersion": "example.com/v1", "kind": "DataFlow", "metadata": {"name": "'
        + name
        + '"}, '
        '"spec": {"functionChainRef": {"name": "chain"}, "startPoint": {"deep": ' + deep + "}}}"
    )
    path = RESOURCES["DataFlow"].path(namespace)
    api.request("POST", path, body=text, content_type="application/yaml")


def _observed(deliveries: queue.Queue[Delivery], name: str, relisted: bool) -> Observed:
    while True:
        delivery = deliveries.get(timeout=60)
        if delivery.relisted != relisted:
            continue
        found = [e for e in delivery.events if isinstance(e, Observed) and e.name == name]
        if found:
            return found[0]


def test_objects_over_the_limits_are_listed_and_watched_without_a_restart(
    kube: client.ApiClient, cluster: EphemeralCluster, namespace: str
) -> None:
    with cluster.api_client() as writer:  # its own connections: the watch streams on kube's
        _check_over_the_limits(KubeApi(kube), KubeApi(writer), namespace)


def _check_over_the_limits(api: KubeApi, writer: KubeApi, namespace: str) -> None:
    _create_dataflow(writer, namespace, "listed", 300)
    deliveries: queue.Queue[Delivery] = queue.Queue()
    metrics = Metrics()
    watcher = Watcher(
        api, "DataFlow", namespace, deliveries.put, metrics,
        timeouts=WatchTimeouts(watch=1),
    )  # fmt: skip
    watcher.start()
    try:
        listed = _observed(deliveries, "listed", relisted=True)
        _create_dataflow(writer, namespace, "watched", 500)
        watched = _observed(deliveries, "watched", relisted=False)
        for event in (listed, watched):
            deep, levels = event.body["spec"]["startPoint"]["deep"], 0
            while isinstance(deep, list):  # as deep as the limit allows (a list page or a
                (deep,) = deep  # watch event wraps the object: a level or two fewer)
                levels += 1
            assert bounded.API.max_depth - 8 < levels < bounded.API.max_depth
            assert deep == (
                f"{bounded.OVER_LIMIT}nested deeper than {bounded.API.max_depth} levels "
                "(the limit)>"
            )
        watcher._take_line("{not json")
        watcher._take_line("[" * 100_000)
        assert metrics.watch_skipped.labels(watcher.name)._value.get() == 2
        assert watcher.state.restarts == 0 and watcher.state.up
    finally:
        watcher.stop()
        watcher.join(10)
