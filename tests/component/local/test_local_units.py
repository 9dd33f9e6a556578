"""The local runtime's pure parts: addresses, the runnable check, a Pod's env and argv."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kasugai.adapters.local.addresses import AddressBook, bound_addresses, validate_loopback
from kasugai.adapters.local.layout import StateDir
from kasugai.adapters.local.podspec import NotRunnable, expand, host_path, prepare_pod
from kasugai.adapters.local.runnable import command_problem

NAMES = st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True), unique=True, max_size=60)


@settings(deadline=None)  # each allocation reads /proc/net; tests do not time things
@given(NAMES)
def test_every_pod_gets_its_own_loopback_address(names: list[str]) -> None:
    book = AddressBook()
    addresses = [book.address_of("ns", name) for name in names]
    assert len(set(addresses)) == len(addresses)
    for address in addresses:
        assert ipaddress.ip_address(address) in ipaddress.ip_network("127.0.0.0/16")
        assert address != "127.0.0.1" and not address.endswith((".0", ".255"))
    assert [AddressBook().address_of("ns", n) for n in names[:1]] == addresses[:1]  # stable


def test_addresses_are_kept_and_a_taken_address_is_probed_past(tmp_path: Path) -> None:
    wanted = AddressBook().address_of("ns", "pod-b")
    path = tmp_path / "addresses.json"
    path.write_text(f'{{"ns/pod-a": "{wanted}"}}')  # pod-a already holds pod-b's first choice
    book = AddressBook(path)
    moved = book.address_of("ns", "pod-b")
    assert moved != wanted
    assert AddressBook(path).address_of("ns", "pod-b") == moved  # kept across restarts


def test_an_address_another_program_listens_on_is_skipped(tmp_path: Path) -> None:
    first_choice = AddressBook().address_of("ns", "pod")
    with (
        socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as other,  # as gRPC binds
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as another,
    ):
        other.bind((f"::ffff:{first_choice}", 0))
        other.listen()
        assert first_choice in bound_addresses()
        another.bind(("127.0.0.77", 0))
        assert "127.0.0.77" in bound_addresses()
        assert AddressBook().address_of("ns", "pod") != first_choice
        path = tmp_path / "addresses.json"
        path.write_text(f'{{"ns/pod": "{first_choice}"}}')
        assert AddressBook(path).address_of("ns", "pod") != first_choice  # a stored one too


def test_only_loopback_addresses_are_accepted() -> None:
    assert validate_loopback("127.0.3.4") == "127.0.3.4"
    for bad in ("10.0.0.1", "::1", "127.0.0.1; rm -rf /", "localhost"):
        with pytest.raises(ValueError):
            validate_loopback(bad)


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["sh", "-c", "cp /a /b; /calcapp -server"], "command '/calcapp' is a path inside"),
        (["bash", "-c", "X=1 exec /no/such -v && true"], "command '/no/such' is a path inside"),
        (["no-such-program-here"], "command 'no-such-program-here' is not on PATH here"),
        ([], "has no command"),
        (["sh", "-c", "for f in a b; do echo $f; done; sleep 1"], None),
        (["sh", "-c", 'cd /tmp && exec "$PROGRAM" 1'], None),
        (["kasugai-calc", "-idle"], None),
    ],
)
def test_commands_that_cannot_run_here_are_named(argv: list[str], problem: str | None) -> None:
    found = command_problem(argv, host_path(), "/tmp", "localhost/image:latest")
    if problem is None:
        assert found is None
    else:
        assert found is not None and found.startswith(problem)


def _pod(container: dict[str, Any], volumes: list[Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [container]}
    if volumes is not None:
        spec["volumes"] = volumes
    return {"kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}, "spec": spec}


def test_a_pod_gets_the_env_a_kubelet_would_give_it(tmp_path: Path) -> None:
    container = {
        "name": "cpu-container0",
        "command": ["printenv", "$(GREETING)", "$$(K8S_POD_NAME)"],
        "env": [
            {"name": "K8S_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "GREETING", "value": "hello-$(K8S_POD_NAME)"},
        ],
        "volumeMounts": [{"name": "config-dir", "mountPath": "/config"}],
    }
    state = StateDir(tmp_path)
    spec = prepare_pod(
        _pod(container, [{"name": "config-dir", "emptyDir": {}}]),
        "127.0.9.9",
        state,
        tmp_path / "ethcrl.p.json",
        "run-1",
    )
    (only,) = spec.containers
    assert only.argv == ("printenv", "hello-p", "$(K8S_POD_NAME)")
    config = str(state.pod_dir("ns", "p") / "volumes" / "config-dir")
    assert {k: only.env[k] for k in ("K8S_POD_NAME", "IP", "KASUGAI_POD_IP")} == {
        "K8S_POD_NAME": "p",
        "IP": "127.0.9.9",
        "KASUGAI_POD_IP": "127.0.9.9",
    }
    assert only.env["KASUGAI_CONFIG_DIR"] == spec.config_dir == config
    assert only.env["KASUGAI_RUNTIME_ID"] == "run-1"
    assert only.env["PATH"].split(os.pathsep)[0].endswith("bin")


def test_the_sidecar_reads_its_connection_file(tmp_path: Path) -> None:
    container = {"name": "cpu-container1", "command": ["kasugai-sidecar"]}
    spec = prepare_pod(_pod(container), "127.0.9.9", StateDir(tmp_path), tmp_path / "c.json", "r")
    loaded = tmp_path / "loaded" / "ns" / "p.config"
    assert spec.containers[0].argv == (
        "kasugai-sidecar",
        "--source",
        f"file:{tmp_path}/c.json",
        "--loaded-file",
        str(loaded),
    )
    assert spec.loaded_file == str(loaded)


def test_what_cannot_be_resolved_locally_is_named(tmp_path: Path) -> None:
    container = {
        "name": "cpu-container0",
        "command": ["/calcapp"],
        "image": "localhost/cpufunc_calcapp:latest",
        "env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
    }
    with pytest.raises(NotRunnable) as failure:
        prepare_pod(
            _pod(container, [{"name": "v", "configMap": {"name": "c"}}]),
            "127.0.9.9",
            StateDir(tmp_path),
            tmp_path / "c.json",
            "r",
        )
    assert failure.value.problems == [
        "pod p volume 'v' (configMap): only emptyDir and hostPath volumes exist locally",
        "pod p container cpu-container0: env[0] TOKEN: only `value` and `valueFrom.fieldRef` "
        "(metadata.name, metadata.namespace, status.podIP...) can be resolved locally; give the "
        "value directly",
        "pod p container cpu-container0: command '/calcapp' is a path inside the image "
        "localhost/cpufunc_calcapp:latest and does not exist here; use the portable samples "
        "(manifests/samples/calc, manifests/samples/video-*) or put the program on PATH",
    ]


def test_kubernetes_variable_references() -> None:
    env = {"A": "1"}
    assert expand("$(A)-$(B)-$$(A)-$$", env) == "1-$(B)-$(A)-$"
