"""How the sidecar reaches a real kube-apiserver without the official client's models: a Pod's
service account files, a kubeconfig it reads itself, and one it leaves to the official client.

The service account's files live in a temporary folder here (the real ones are at a fixed path
a Pod gets from the kubelet); everything else is the real API server.
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from kasugai_sidecar.kube_access import AccessError, from_kubeconfig, in_cluster
from kasugai_sidecar.kube_http import Api, ApiError
from kubernetes import client

from kasugai.testing import EphemeralCluster

TIMEOUT = (5.0, 10.0)


def _configmaps(api: Api, namespace: str) -> list[str]:
    found = api.request("GET", f"/api/v1/namespaces/{namespace}/configmaps", timeout=TIMEOUT)
    return sorted(item["metadata"]["name"] for item in found["items"])


def _kubeconfig(cluster: EphemeralCluster, user: dict[str, Any], **ca: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": cluster.server, **ca}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }


@pytest.fixture
def with_configmap(kube: client.ApiClient, namespace: str) -> str:
    body = {"metadata": {"name": "ethcrl.p"}, "data": {"config": "{}"}}
    client.CoreV1Api(kube).create_namespaced_config_map(namespace, body)
    return namespace


def test_in_a_pod_the_token_is_read_again_for_each_request(
    cluster: EphemeralCluster, with_configmap: str, tmp_path: Path
) -> None:
    account = tmp_path / "serviceaccount"
    account.mkdir()
    shutil.copy(cluster.credentials.ca_cert, account / "ca.crt")
    (account / "token").write_text(cluster.credentials.admin_token + "\n")
    host, _, port = cluster.server.removeprefix("https://").rpartition(":")
    environ = {"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port}
    api = Api(in_cluster(account, environ))
    assert _configmaps(api, with_configmap) == ["ethcrl.p"]

    (account / "token").write_text("not-a-token")  # the kubelet rotated it (badly)
    with pytest.raises(ApiError) as refused:
        _configmaps(api, with_configmap)
    assert refused.value.status == 401

    (account / "token").write_text(cluster.credentials.admin_token)
    assert _configmaps(api, with_configmap) == ["ethcrl.p"]


def test_outside_a_pod_without_a_kubeconfig_the_error_says_what_to_give() -> None:
    with pytest.raises(AccessError, match="--kubeconfig FILE or set KUBECONFIG"):
        in_cluster(Path("/nonexistent"), {})


def test_a_kubeconfig_with_ca_data_and_a_relative_token_file(
    cluster: EphemeralCluster, with_configmap: str, tmp_path: Path
) -> None:
    (tmp_path / "token").write_text(cluster.credentials.admin_token)
    ca = base64.b64encode(cluster.credentials.ca_cert.read_bytes()).decode()
    config = _kubeconfig(cluster, {"tokenFile": "token"}, **{"certificate-authority-data": ca})
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(config))
    assert _configmaps(Api(from_kubeconfig(str(tmp_path / "kubeconfig"))), with_configmap) == [
        "ethcrl.p"
    ]


def test_a_kubeconfig_with_an_exec_plugin_is_loaded_by_the_official_client(
    cluster: EphemeralCluster, with_configmap: str, tmp_path: Path
) -> None:
    ran = tmp_path / "plugin-ran"
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": cluster.credentials.admin_token},
    }
    plugin = f"open({str(ran)!r}, 'a').write('x'); print({json.dumps(credential)!r})"
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": ["-c", plugin],
            "interactiveMode": "Never",
        }
    }
    config = _kubeconfig(
        cluster, user, **{"certificate-authority": str(cluster.credentials.ca_cert)}
    )
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(config))
    api = Api(from_kubeconfig(str(tmp_path / "kubeconfig")))
    assert _configmaps(api, with_configmap) == ["ethcrl.p"]
    assert ran.read_text(), "the token came from the plugin"


def test_a_kubeconfig_the_official_client_refuses_names_the_file(tmp_path: Path) -> None:
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "missing"}
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(config))
    with pytest.raises(AccessError, match=f"kubeconfig {tmp_path / 'kubeconfig'}"):
        from_kubeconfig(str(tmp_path / "kubeconfig"))
