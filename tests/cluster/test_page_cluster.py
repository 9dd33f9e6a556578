"""The live page served by a real controller against the real API server: the list, and one
DataFlow's JSON with the chain from the status the controller wrote and the Events it recorded;
read-only (GET only), on a server of its own, not on the probes' port."""

from __future__ import annotations

import http.client
import itertools
import json
from typing import Any

from controller_fixtures import *  # noqa: F403
from controller_fixtures import calc_inputs, wait_for, wait_for_status
from kubernetes import client
from prometheus_client import CollectorRegistry, Counter

from kasugai.health_server import ProbeServer, metrics_reply
from kasugai.testing.inputs import apply_objects

CALC = ["send", "plus", "minus", "multiply", "divide", "average", "rcv"]


def _get(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path)
        reply = connection.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        connection.close()


def test_the_controller_serves_the_page_json_of_a_dataflow_it_reconciles(
    kube: client.ApiClient, namespace: str, own_controller: Any
) -> None:
    controller = own_controller(namespace, "--leader-elect=false")
    apply_objects(kube, calc_inputs(namespace))
    wait_for_status(kube, namespace, "df-calcapp", "Deployed")
    port = controller.view_port

    def page() -> dict[str, Any] | None:
        status, _, body = _get(port, f"/dataflows/{namespace}/df-calcapp.json")
        if status != 200:
            return None
        data: dict[str, Any] = json.loads(body)
        return data if data["status"] == "Deployed" and data["events"] else None

    data = wait_for(page, "the page's JSON of the deployed DataFlow")
    assert (data["namespace"], data["name"]) == (namespace, "df-calcapp")
    assert [n["key"] for n in data["nodes"]] == CALC
    assert [(e["source"], e["target"]) for e in data["edges"]] == list(itertools.pairwise(CALC))
    assert all(e["published"] for e in data["edges"])
    assert "Deployed" in data["events"][0]["message"]  # newest first, as recorded
    assert {e["type"] for e in data["events"]} == {"Normal"}

    status, headers, body = _get(port, "/dataflows.json")
    assert status == 200 and headers["content-security-policy"].startswith("default-src 'self'")
    assert {"namespace": namespace, "name": "df-calcapp"}.items() <= next(
        d for d in json.loads(body)["dataflows"] if d["namespace"] == namespace
    ).items()
    assert _get(port, "/")[0] == 200
    assert _get(port, f"/dataflows/{namespace}/df-calcapp.json", method="POST")[0] == 405
    assert _get(port, f"/dataflows/{namespace}/missing.json")[0] == 404
    # Every namespace's DataFlows: not on the port the kubelet and Prometheus reach.
    assert _get(controller.port, "/dataflows.json")[0] == 404
    assert _get(controller.port, "/healthz")[0] == 200


def test_the_controller_page_scrapes_each_function_at_its_pod_ip(
    kube: client.ApiClient, namespace: str, own_controller: Any, fake_kubelet: Any
) -> None:
    """A function's status address is its Service's, without the metrics port: the page takes
    its figures from the Pod IP instead (the fake kubelet's are loopback addresses, so a
    metrics endpoint of the test's own can stand at plus's)."""
    fake_kubelet(namespace)
    controller = own_controller(namespace, "--leader-elect=false")
    apply_objects(kube, calc_inputs(namespace))
    wait_for_status(kube, namespace, "df-calcapp", "Deployed")
    plus = client.CoreV1Api(kube).read_namespaced_pod(
        "df-calcapp-wbfunction-plus-cpu-pod", namespace
    )
    registry = CollectorRegistry()
    Counter("kasugai_function_requests", "received", registry=registry).inc(42)
    routes = {"/metrics": lambda: metrics_reply(registry)}
    server = ProbeServer(plus.status.pod_ip, 9464, routes, "plus-metrics")
    server.start()
    try:

        def figures() -> dict[str, Any] | None:
            status, _, body = _get(controller.view_port, f"/dataflows/{namespace}/df-calcapp.json")
            nodes = {n["key"]: n for n in json.loads(body)["nodes"]} if status == 200 else {}
            return (nodes.get("plus") or {}).get("figures")

        found = wait_for(figures, "plus's figures on the page")
    finally:
        server.stop()
    assert found["requests_total"] == 42
