"""``kasugai graph --cluster`` against the real API server: the chain a real controller wrote,
kubectl's namespace and context rules, its NotFound and Forbidden errors, and a status written
by a hostile tenant drawn as labels, never as markup."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from controller_fixtures import *  # noqa: F403
from controller_fixtures import calc_inputs, service_account_kubeconfig, wait_for_status
from kubernetes import client
from view.graph_parsers import parse_dot, parse_mermaid, parse_svg  # tests/view's, as tier_setup

from kasugai.adapters.kube.api import RESOURCES, KubeApi
from kasugai.testing import EphemeralCluster
from kasugai.testing.fake_kubelet import MERGE_PATCH
from kasugai.testing.inputs import apply_objects
from kasugai.view.chain import chain_from_dataflow, chain_to_json

KASUGAI = str(Path(sys.executable).with_name("kasugai"))
CALC_KEYS = ["send", "plus", "minus", "multiply", "divide", "average", "rcv"]


def graph(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [KASUGAI, "graph", "--cluster", "--kubeconfig", str(kubeconfig), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_the_chain_the_controller_wrote_is_drawn_as_the_api_server_has_it(
    cluster: EphemeralCluster, kube: client.ApiClient, namespace: str, own_controller: Any
) -> None:
    own_controller(namespace, "--leader-elect=false")
    apply_objects(kube, calc_inputs(namespace))
    live = wait_for_status(kube, namespace, "df-calcapp", "Deployed")

    found = graph(cluster.kubeconfig, "df-calcapp", "-n", namespace, "-o", "json")
    assert found.returncode == 0, found.stderr
    drawn = json.loads(found.stdout)
    assert [n["key"] for n in drawn["nodes"]] == CALC_KEYS
    assert len(drawn["edges"]) == 6 and all(e["destination"] for e in drawn["edges"])
    # Exactly the chain of the object as read now (the controller may have moved on: re-read).
    current = KubeApi(kube).get("DataFlow", namespace, "df-calcapp")
    assert current is not None and drawn == chain_to_json(chain_from_dataflow(current))
    assert live["metadata"]["uid"] == current["metadata"]["uid"]

    every = parse_mermaid(graph(cluster.kubeconfig, "-n", namespace, "-o", "mermaid").stdout)
    assert [label.split(" ")[0] for label in every.nodes.values()] == CALC_KEYS
    assert len(every.edges) == 6
    assert every.titles == [f"{namespace}/df-calcapp (Deployed)"]


def test_a_dataflow_that_is_not_there_is_notfound_like_kubectl_says(
    cluster: EphemeralCluster, namespace: str
) -> None:
    found = graph(cluster.kubeconfig, "df-nope", "-n", namespace)
    assert found.returncode == 1
    assert (
        found.stderr == 'Error from server (NotFound): dataflows.example.com "df-nope" not found\n'
    )
    empty = graph(cluster.kubeconfig, "-n", namespace)
    assert (empty.returncode, empty.stdout, empty.stderr) == (0, "", "No resources found.\n")


def _hostile_dataflow(kube: client.ApiClient, namespace: str, name: str, keys: list[str]) -> None:
    """A DataFlow whose status a tenant wrote by hand: hostile keys, addresses and states."""
    chain_ref = {"name": "none", "namespace": namespace}
    body = {
        "apiVersion": "example.com/v1",
        "kind": "DataFlow",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"functionChainRef": chain_ref},
    }
    api = KubeApi(kube)
    api.request("POST", RESOURCES["DataFlow"].path(namespace), body=body)
    status = {
        "status": '"]<b>',
        "functions": [{"key": k, "pod": k, "phase": "Running", "address": k} for k in keys],
        "connections": [
            {"from": s, "to": t, "state": k, "destination": k, "protocol": '"; x=y'}
            for s, t, k in zip(keys, keys[1:], keys, strict=False)
        ],
    }
    path = RESOURCES["DataFlow"].path(namespace, name, "status")
    api.request("PATCH", path, body={"status": status}, content_type=MERGE_PATCH)


def test_a_hostile_status_is_drawn_as_labels_in_every_format(
    cluster: EphemeralCluster, kube: client.ApiClient, namespace: str
) -> None:
    keys = ["<script>alert(1)</script>", 'a"]; b["x', '"a" -> "b"', "back\\", "\x1b[31mred"]
    _hostile_dataflow(kube, namespace, "df-hostile", keys)

    svg = graph(cluster.kubeconfig, "df-hostile", "-n", namespace, "-o", "svg")
    assert svg.returncode == 0, svg.stderr
    nodes, edges = parse_svg(svg.stdout)
    assert nodes == [k.replace("\x1b", "\N{REPLACEMENT CHARACTER}") for k in keys]
    assert len(edges) == 4 and "<script>" not in svg.stdout
    dot = parse_dot(graph(cluster.kubeconfig, "df-hostile", "-n", namespace, "-o", "dot").stdout)
    assert (len(dot.nodes), len(dot.edges)) == (5, 4)
    mermaid = graph(cluster.kubeconfig, "df-hostile", "-n", namespace, "-o", "mermaid").stdout
    assert (len(parse_mermaid(mermaid).nodes), len(parse_mermaid(mermaid).edges)) == (5, 4)
    tree = graph(cluster.kubeconfig, "df-hostile", "-n", namespace)
    assert tree.returncode == 0 and "\x1b" not in tree.stdout
    # --metrics on addresses that are no addresses: the chain without figures, no error.
    sampled = graph(cluster.kubeconfig, "df-hostile", "-n", namespace, "-o", "json", "--metrics")
    assert sampled.returncode == 0, sampled.stderr
    assert all(n["figures"] is None for n in json.loads(sampled.stdout)["nodes"])


def test_the_contexts_namespace_is_the_default_and_forbidden_is_said_so(
    cluster: EphemeralCluster, kube: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    _hostile_dataflow(kube, namespace, "df-one", ["a", "b"])
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    context = dict(config["contexts"][0])
    context = {"name": "tenant", "context": {**context["context"], "namespace": namespace}}
    config["contexts"].append(context)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))

    found = graph(kubeconfig, "--context", "tenant", "-o", "json")
    assert found.returncode == 0, found.stderr
    assert [c["name"] for c in json.loads(found.stdout)["items"]] == ["df-one"]
    elsewhere = graph(kubeconfig, "df-one")  # the current context: namespace default
    assert elsewhere.returncode == 1 and "NotFound" in elsewhere.stderr
    unknown = graph(kubeconfig, "--context", "no-such-context")
    assert unknown.returncode == 2 and "no-such-context" in unknown.stderr

    nobody = service_account_kubeconfig(cluster, kube, namespace, "nobody", tmp_path / "nobody")
    refused = graph(nobody, "df-one", "-n", namespace)
    assert refused.returncode == 1
    assert refused.stderr.startswith("Error from server (Forbidden): ")
    assert "df-one" in refused.stderr
