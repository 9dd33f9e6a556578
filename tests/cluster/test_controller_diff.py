"""``kasugai diff --cluster``: the files' plan against the live cluster, by Server-Side Apply dry
run, with kubectl-diff output and exit codes, and nothing changed in the cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from controller_fixtures import *  # noqa: F403
from controller_fixtures import calc_inputs, diff_cluster, inventory, wait_for, wait_for_status
from kubernetes import client

from kasugai.testing import EphemeralCluster
from kasugai.testing.inputs import apply_objects, dataflow_copies


def _versions(kube: client.ApiClient, namespace: str) -> dict[Any, str]:
    return {k: o["metadata"]["resourceVersion"] for k, o in inventory(kube, namespace).items()}


def test_diff_cluster_shows_what_the_controller_would_change(
    cluster: EphemeralCluster,
    kube: client.ApiClient,
    shared_namespace: str,
    fake_kubelet: Any,
    tmp_path: Path,
) -> None:
    namespace = shared_namespace
    inputs = calc_inputs(namespace)
    apply_objects(kube, inputs)
    fake_kubelet(namespace)
    wait_for_status(kube, namespace, "df-calcapp", "Deployed")
    wait_for(lambda: len(inventory(kube, namespace)) == 21, "the 21 objects")

    same = diff_cluster(cluster, inputs, tmp_path / "same.yaml")
    assert (same.returncode, same.stdout) == (0, ""), same.stderr

    before = _versions(kube, namespace)
    chain = next(obj for obj in inputs if obj["kind"] == "FunctionChain")
    del chain["spec"]["functions"]["minus"]
    for connection in chain["spec"]["connections"]:
        if connection["to"]["functionKey"] == "minus":
            connection["to"]["functionKey"] = "multiply"
    chain["spec"]["connections"] = [
        c for c in chain["spec"]["connections"] if c["from"]["functionKey"] != "minus"
    ]
    edited = diff_cluster(cluster, inputs, tmp_path / "edited.yaml")
    assert edited.returncode == 1, edited.stderr
    headers = [
        line
        for line in edited.stdout.splitlines()
        if line.endswith((" created", " configured", " deleted"))
    ]
    # Make before break: the first step only rewires plus; minus's objects go once plus has
    # loaded its new next hop (test_controller_calc follows the whole edit).
    assert headers == [
        f"ConfigMap/{namespace}/ethcrl.df-calcapp-wbfunction-plus-cpu-pod configured",
    ]
    multiply = inventory(kube, namespace)[("Service", "df-calcapp-wbfunction-multiply-service")]
    assert f'+        "{multiply["spec"]["clusterIP"]}"' in edited.stdout
    assert _versions(kube, namespace) == before  # a dry run changes nothing

    flow = next(obj for obj in inputs if obj["kind"] == "DataFlow")
    (new,) = dataflow_copies(flow, ["df-new"])
    created = diff_cluster(cluster, [*calc_inputs(namespace), new], tmp_path / "new.yaml")
    assert created.returncode == 1, created.stderr
    assert f"Pod/{namespace}/df-new-wbfunction-send-cpu-pod created" in created.stdout
    assert "uid:" not in created.stdout  # the placeholder owner uid is not shown
    assert not any("df-new" in name for _, name in inventory(kube, namespace))

    broken = calc_inputs(namespace)
    config = next(obj for obj in broken if obj["metadata"]["name"].endswith("calcapp-plus"))
    ((key, text),) = config["data"].items()
    config["data"][key] = text.replace('"memory": "1Gi"', '"memory": "lots"')
    refused = diff_cluster(cluster, broken, tmp_path / "broken.yaml")
    assert refused.returncode == 2
    assert "df-calcapp-wbfunction-plus-cpu-pod: the API server refused it" in refused.stderr
    assert "quantities must match" in refused.stderr
