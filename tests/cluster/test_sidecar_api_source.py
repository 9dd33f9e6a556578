"""The sidecar's Kubernetes source against a real kube-apiserver: ConfigMap in, SIGHUP out.

The sidecar lists, then watches, ``ethcrl.<pod>`` with the session's admin kubeconfig; a real
TCP relay between it and the apiserver lets a test break the watch the way a network does.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kasugai_sidecar.testing import (
    FunctionStandIn,
    SidecarProcess,
    start_function,
    start_sidecar,
)
from kubernetes import client

from kasugai.testing import EphemeralCluster, wait_until

TEMPLATES = Path(__file__).resolve().parents[1] / "fixtures" / "openkasugai" / "templates"


def calc_config(host: str, port: int) -> str:
    return json.dumps({"ips": [host], "ports": [{"port": port, "protocol": "TCP"}]}, indent=2)


def calc_output(host: str, port: int) -> str:
    return f'next:\n  host: "{host}"\n  port: {port}\n'


class Relay:
    """A TCP relay on 127.0.0.1 to the apiserver; ``cut`` drops every connection through it,
    ``refuse`` makes it drop new ones at once until ``accept`` again."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.refusing = threading.Event()
        self.links: list[socket.socket] = []
        self.lock = threading.Lock()
        self.closed = False
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def _accept_loop(self) -> None:
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return  # closed
            if self.refusing.is_set():
                downstream.close()
                continue
            upstream = socket.create_connection(self.upstream)
            with self.lock:
                self.links += [downstream, upstream]
            for a, b in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass  # the other direction was cut: this one ends too
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):  # already shut by the other pump
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> int:
        with self.lock:
            links, self.links = self.links, []
        for sock in links:
            with contextlib.suppress(OSError):  # already shut by its pump
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        return len(links) // 2

    def close(self) -> None:
        self.listener.close()
        self.cut()


@pytest.fixture
def relay(cluster: EphemeralCluster) -> Iterator[Relay]:
    server = cluster.server.removeprefix("https://")
    host, _, port = server.rpartition(":")
    relay = Relay((host, int(port)))
    yield relay
    relay.close()


def kubeconfig_via(cluster: EphemeralCluster, relay: Relay, path: Path) -> Path:
    """The admin kubeconfig, with the server address replaced by the relay's."""
    config: dict[str, Any] = yaml.safe_load(cluster.kubeconfig.read_text())
    for entry in config["clusters"]:
        entry["cluster"]["server"] = f"https://127.0.0.1:{relay.port}"
    path.write_text(yaml.safe_dump(config))
    return path


class Pod:
    """One function Pod's processes on this machine: the stand-in function and its sidecar."""

    def __init__(self, workdir: Path, namespace: str, kubeconfig: Path) -> None:
        self.name = f"calc-wbfunction-plus-{secrets.token_hex(3)}-cpu-pod"
        self.config_dir = workdir / "config"
        self.config_dir.mkdir()
        self.output = self.config_dir / "config.yaml"
        (self.config_dir / "config.yaml.tmpl").write_text(
            (TEMPLATES / "calcapp-config.yaml.tmpl").read_text()
        )
        self.function: FunctionStandIn = start_function(workdir, "function", self.name, self.output)
        self.sidecar: SidecarProcess = start_sidecar(
            workdir,
            source="kubernetes",
            config_dir=self.config_dir,
            pod=self.name,
            namespace=namespace,
            args=["--kubeconfig", str(kubeconfig)],
        )

    def stop(self) -> None:
        self.sidecar.process.stop()
        self.function.process.stop()


@pytest.fixture
def pod(tmp_path: Path, namespace: str, cluster: EphemeralCluster, relay: Relay) -> Iterator[Pod]:
    started = Pod(tmp_path, namespace, kubeconfig_via(cluster, relay, tmp_path / "kubeconfig"))
    yield started
    started.stop()


def _configmap(name: str, config: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "data": {"config": config}}


def test_create_and_update_render_and_signal_delete_is_only_logged(
    kube: client.ApiClient, namespace: str, pod: Pod
) -> None:
    core = client.CoreV1Api(kube)
    wait_until(lambda: pod.sidecar.count("configmap not there yet; watching for it"), "the list")
    name = f"ethcrl.{pod.name}"
    core.create_namespaced_config_map(namespace, _configmap(name, calc_config("10.96.0.10", 8080)))
    wait_until(lambda: len(pod.function.signals()) == 1, "the SIGHUP after the create")
    assert pod.function.signals() == [calc_output("10.96.0.10", 8080)]

    core.patch_namespaced_config_map(
        name, namespace, {"data": {"config": calc_config("10.96.0.11", 8080)}}
    )
    wait_until(lambda: len(pod.function.signals()) == 2, "the SIGHUP after the update")
    assert pod.function.signals()[1] == calc_output("10.96.0.11", 8080)

    # Another ConfigMap in the namespace is not this Pod's business.
    core.create_namespaced_config_map(
        namespace, _configmap("ethcrl.other", calc_config("10.9.9.9", 1))
    )

    core.delete_namespaced_config_map(name, namespace)
    wait_until(
        lambda: pod.sidecar.count("configmap deleted; keeping the last rendered files"),
        "the deletion to be logged",
    )
    assert pod.output.read_text() == calc_output("10.96.0.11", 8080)
    assert len(pod.function.signals()) == 2
    assert not pod.sidecar.process.exited()


def test_a_bad_config_in_the_configmap_keeps_the_last_good_file(
    kube: client.ApiClient, namespace: str, pod: Pod
) -> None:
    core = client.CoreV1Api(kube)
    name = f"ethcrl.{pod.name}"
    core.create_namespaced_config_map(namespace, _configmap(name, calc_config("10.96.0.20", 8080)))
    wait_until(lambda: len(pod.function.signals()) == 1, "the first SIGHUP")
    core.patch_namespaced_config_map(name, namespace, {"data": {"config": '{"ips": ["nope"]}'}})
    rejected = wait_until(
        lambda: [e for e in pod.sidecar.events() if e["event"].startswith("config rejected")],
        "the rejection",
    )
    assert rejected[0]["problems"] == [
        "config.ips[0]: not an IP address (a string of 4 characters)"
    ]
    core.patch_namespaced_config_map(name, namespace, {"data": {"other": "x", "config": None}})
    wait_until(
        lambda: pod.sidecar.count("configmap has no data.config; keeping the last rendered files"),
        "the missing key to be reported",
    )
    assert pod.output.read_text() == calc_output("10.96.0.20", 8080)
    assert len(pod.function.signals()) == 1


def test_the_watch_resumes_after_the_connection_breaks(
    kube: client.ApiClient, namespace: str, pod: Pod, relay: Relay
) -> None:
    core = client.CoreV1Api(kube)
    name = f"ethcrl.{pod.name}"
    core.create_namespaced_config_map(namespace, _configmap(name, calc_config("10.96.0.30", 8080)))
    wait_until(lambda: len(pod.function.signals()) == 1, "the first SIGHUP")

    # The network goes away while the ConfigMap changes twice.
    relay.refusing.set()
    assert relay.cut() >= 1
    wait_until(lambda: pod.sidecar.count("configmap watch failed; reconnecting"), "the failure")
    core.patch_namespaced_config_map(
        name, namespace, {"data": {"config": calc_config("10.96.0.31", 8080)}}
    )
    core.patch_namespaced_config_map(
        name, namespace, {"data": {"config": calc_config("10.96.0.32", 8080)}}
    )
    relay.refusing.clear()

    wait_until(lambda: pod.output.read_text() == calc_output("10.96.0.32", 8080), "the catch-up")
    wait_until(lambda: calc_output("10.96.0.32", 8080) in pod.function.signals(), "its SIGHUP")
    failures = [
        e for e in pod.sidecar.events() if e["event"] == "configmap watch failed; reconnecting"
    ]
    assert failures[0]["resume_from"], "the watch resumes from the last resourceVersion"
    assert not pod.sidecar.process.exited()
