"""The original arithmetic sample's Pods, run from the calc and sidecar images as they are.

Each "Pod" is an app container running the sample ConfigMap's command unchanged (bash, cp, tail,
/calcapp) and a sidecar container running /sidecar, sharing the app's process namespace
(shareProcessNamespace) and its /config volume. The sidecar reads its connection config from a
file instead of ConfigMap ethcrl.<pod> (file-source mode: there is no API server in this tier).
All containers share one network namespace with loopback only, so the receiver listens on 8081
instead of the sample's 8080, the one change to a sample command.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from image_containers import Containers

from kasugai.testing.podman import Podman

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "tests" / "fixtures" / "openkasugai" / "calc-func" / "basic"
TEMPLATE = REPO / "tests" / "fixtures" / "openkasugai" / "templates" / "calcapp-config.yaml.tmpl"
CALC = "localhost/cpufunc_calcapp:latest"
SIDECAR = "localhost/cpufunc_sidecar:latest"
RECEIVER_PORT = 8081


def sample_app_command(key: str) -> str:
    """The app container's ``bash -c`` command in the sample's config ConfigMap ``key``."""
    for document in yaml.safe_load_all((SAMPLE / "cm-cpufunc-config.yaml").read_text()):
        if key in document["data"]:
            [entry] = yaml.safe_load(document["data"][key])
            [app] = [c for c in entry["template"]["spec"]["containers"] if c["name"] == "app"]
            assert app["image"] == CALC and app["command"][:2] == ["bash", "-c"]
            return str(app["command"][2])
    raise KeyError(key)


def write_connection(directory: Path, port: int) -> None:
    """What ConfigMap ethcrl.<pod> would hold: the next hop, replaced by an atomic rename."""
    config = {"ips": ["127.0.0.1"], "ports": [{"port": port, "protocol": "TCP"}]}
    partial = directory / "config.json.partial"
    partial.write_text(json.dumps(config))
    os.replace(partial, directory / "config.json")


class Pods:
    """Sample Pods in one network namespace: the first container started holds it."""

    def __init__(self, containers: Containers, root: Path) -> None:
        self.containers = containers
        self.root = root
        self.network_owner: str | None = None

    def config_dir(self, pod: str) -> Path:
        return self.root / pod / "config"

    def connection_dir(self, pod: str) -> Path:
        return self.root / pod / "connection"

    def start_app(self, pod: str, command: str) -> None:
        self.config_dir(pod).mkdir(parents=True)
        self.containers.start(
            pod,
            CALC,
            *("bash", "-c", command),
            network_of=self.network_owner,
            env={"K8S_POD_NAME": pod},
            volumes={self.config_dir(pod): "/config"},
        )
        self.network_owner = self.network_owner or pod

    def start_pod(self, pod: str, command: str, next_port: int) -> None:
        """The app and its sidecar, which renders the app's templates for ``next_port``."""
        self.start_app(pod, command)
        self.connection_dir(pod).mkdir(parents=True)
        write_connection(self.connection_dir(pod), next_port)
        self.containers.start(
            f"{pod}-sidecar",
            SIDECAR,
            *("/sidecar", "--source", "file:/connection/config.json"),
            network_of=self.network_owner,
            pid_of=pod,
            env={"K8S_POD_NAME": pod, "SIDECAR_MNG_PROSESS_NAME": "/calcapp"},
            volumes={self.config_dir(pod): "/config", self.connection_dir(pod): "/connection"},
            cap_add=["SYS_PTRACE"],  # as in the sample: it reads the function's environment
        )


@pytest.fixture(scope="module")
def chain(images: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pods]:
    """send -> plus -> receiver, with the sample's commands; send and plus with a sidecar."""
    containers = Containers(Podman())
    try:
        pods = Pods(containers, tmp_path_factory.mktemp("calc-pods"))
        receiver = sample_app_command("cpufunc-config-calc-rcv.json")
        assert "-port 8080" in receiver
        pods.start_app("rcv", receiver.replace("-port 8080", f"-port {RECEIVER_PORT}"))
        pods.start_pod(
            "plus", sample_app_command("cpufunc-config-calcapp-plus.json"), RECEIVER_PORT
        )
        pods.start_pod("send", sample_app_command("cpufunc-config-calcapp-send.json"), 8080)
        containers.wait_for_event("plus", "start gRPC server")
        containers.wait_for_event("rcv", "start gRPC server")
        yield pods
    finally:
        containers.remove_all()


def test_every_app_copies_the_template_as_the_sample_says(chain: Pods) -> None:
    for pod in ("send", "plus", "rcv"):
        copied = chain.config_dir(pod) / "config.yaml.tmpl"
        assert copied.read_bytes() == TEMPLATE.read_bytes(), pod


def test_the_sidecar_renders_the_next_hop_and_signals_calcapp(chain: Pods) -> None:
    chain.containers.wait_for_event("plus-sidecar", "rendered")
    chain.containers.wait_for_event("plus-sidecar", "sighup sent")
    chain.containers.wait_for_event(
        "plus", "load config", next={"host": "127.0.0.1", "port": RECEIVER_PORT}
    )
    rendered = yaml.safe_load((chain.config_dir("plus") / "config.yaml").read_text())
    assert rendered == {"next": {"host": "127.0.0.1", "port": RECEIVER_PORT}}


def test_calcapp_exec_in_the_send_pod_gets_the_chain_answer(chain: Pods) -> None:
    chain.containers.wait_for_event("plus", "load config", found=True)
    chain.containers.wait_for_event("send-sidecar", "rendered")
    # As `kubectl exec <send pod> -- /calcapp 1 2 3`: the client reads the next hop that the
    # send Pod's sidecar rendered into /config/config.yaml.
    reply = chain.containers.exec("send", "/calcapp", "1", "2", "3")
    assert (reply.returncode, reply.stdout.strip()) == (0, "OK"), reply.stderr
    result = chain.containers.wait_for_event("rcv", "result")
    assert result["inputs"] == [1.0, 2.0, 3.0]
    assert result["results"] == [{"operator": "plus", "value": 6.0}]


def test_a_new_next_hop_is_rendered_and_signalled_again(
    containers: Containers, tmp_path: Path
) -> None:
    """A Pod of its own (another plus), so that rewiring it disturbs no other test."""
    pods = Pods(containers, tmp_path)
    pods.start_app("net", "sleep infinity")  # only holds the network namespace
    pods.start_pod("plus", sample_app_command("cpufunc-config-calcapp-plus.json"), 9001)
    containers.wait_for_event("plus", "load config", next={"host": "127.0.0.1", "port": 9001})
    write_connection(pods.connection_dir("plus"), 9002)
    containers.wait_for_event("plus", "load config", next={"host": "127.0.0.1", "port": 9002})
    sent = [e for e in containers.events("plus-sidecar") if e["event"] == "sighup sent"]
    assert len(sent) >= 2
    for signalled in sent:  # the server, by the name the sample's SIDECAR_MNG_PROSESS_NAME gives
        assert signalled["cmdline"].startswith("/calcapp ")
        assert signalled["cmdline"].endswith(" -server -port 8080 -operator plus")
