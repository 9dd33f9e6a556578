"""The node tier's pure parts, without a node: the OCI archives it imports, the configuration
files it writes, and how a host snapshot reports differences."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tomllib
from collections import Counter
from pathlib import Path

import pytest
import yaml

from kasugai.testing.node import HostSnapshot, configs, write_image_archive


def read_archive(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_an_image_archive_is_an_oci_layout_that_names_the_image(tmp_path: Path) -> None:
    program = tmp_path / "pause"
    program.write_bytes(b"\x7fELF not really")
    program.chmod(0o755)
    digest = write_image_archive(
        tmp_path / "image.tar",
        "localhost/kasugai/pause:1",
        files={"/pause": program},
        links={"/bin/sh": "/pause"},
        entrypoint=["/pause"],
    )
    blobs = read_archive(tmp_path / "image.tar")
    index = json.loads(blobs["index.json"])
    (entry,) = index["manifests"]
    assert entry["digest"] == digest
    assert entry["annotations"]["io.containerd.image.name"] == "localhost/kasugai/pause:1"
    for name, blob in blobs.items():  # every blob is stored under its own digest
        if name.startswith("blobs/sha256/"):
            assert name.rsplit("/", 1)[1] == hashlib.sha256(blob).hexdigest()
    manifest = json.loads(blobs[f"blobs/sha256/{digest.split(':')[1]}"])
    config = json.loads(blobs[f"blobs/sha256/{manifest['config']['digest'].split(':')[1]}"])
    assert config["config"]["Entrypoint"] == ["/pause"]
    layer_name = f"blobs/sha256/{manifest['layers'][0]['digest'].split(':')[1]}"
    with tarfile.open(fileobj=io.BytesIO(blobs[layer_name])) as layer:
        members = {m.name: m for m in layer.getmembers()}
    assert members["pause"].mode == 0o755 and members["pause"].uid == 0
    assert members["bin/sh"].issym() and members["bin/sh"].linkname == "/pause"
    assert members["bin"].isdir()


def test_the_same_files_give_the_same_image(tmp_path: Path) -> None:
    program = tmp_path / "p"
    program.write_bytes(b"same")
    first = write_image_archive(tmp_path / "a.tar", "x/y:1", files={"/p": program})
    program.touch()  # a newer mtime changes nothing: every entry has time 0
    assert write_image_archive(tmp_path / "b.tar", "x/y:1", files={"/p": program}) == first


@pytest.mark.parametrize(
    ("reference", "path", "message"),
    [
        ("x/y", "/p", "needs a tag"),
        ("x/y:1", "p", "must be absolute"),
        ("x/y:1", "/a/../../etc/passwd", "without '..'"),
    ],
)
def test_bad_image_input_is_refused_with_the_reason(
    tmp_path: Path, reference: str, path: str, message: str
) -> None:
    program = tmp_path / "p"
    program.write_bytes(b"x")
    with pytest.raises(ValueError, match=message):
        write_image_archive(tmp_path / "i.tar", reference, files={path: program})


def test_containerd_config_is_toml_with_everything_under_the_tier(tmp_path: Path) -> None:
    layout = configs.NodeLayout(tmp_path)
    parsed = tomllib.loads(configs.containerd_config(layout, "localhost/kasugai/pause:1"))
    cri = parsed["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == "localhost/kasugai/pause:1"
    assert cri["restrict_oom_score_adj"] is True
    assert cri["netns_mounts_under_state_dir"] is True
    runc = cri["containerd"]["runtimes"]["runc"]["options"]
    assert runc["SystemdCgroup"] is False
    for path in (parsed["root"], parsed["state"], parsed["grpc"]["address"], runc["Root"]):
        assert Path(path).is_relative_to(tmp_path)


def test_the_pod_network_stays_on_the_tiers_bridge(tmp_path: Path) -> None:
    network = json.loads(configs.cni_config(configs.NodeLayout(tmp_path)))
    bridge = network["plugins"][0]
    assert bridge["bridge"] == configs.BRIDGE
    # Gateway mode and masquerade would make the plugin change host-wide forwarding and NAT.
    assert bridge["isGateway"] is False and bridge["ipMasq"] is False
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.244.0.0/16", "gateway": "10.244.0.1"}]]
    assert Path(bridge["ipam"]["dataDir"]).is_relative_to(tmp_path)


def test_the_kubelet_and_kube_proxy_leave_host_settings_alone(tmp_path: Path) -> None:
    kubelet = yaml.safe_load(
        configs.kubelet_config(
            configs.NodeLayout(tmp_path), tmp_path / "ca.crt", configs.KubeletPorts(1, 2)
        )
    )
    assert kubelet["cgroupDriver"] == "cgroupfs"
    assert kubelet["failCgroupV1"] is False and kubelet["failSwapOn"] is False
    assert kubelet["resolvConf"] == ""
    proxy = yaml.safe_load(
        configs.kube_proxy_config(tmp_path / "kc", "n", configs.ProxyPorts(1, 2))
    )
    assert proxy["mode"] == "iptables"
    assert proxy["iptables"]["localhostNodePorts"] is False  # would set route_localnet
    assert set(proxy["conntrack"].values()) <= {0, "0s"}  # would set conntrack sysctls


def snapshot(**changes: object) -> HostSnapshot:
    fields: dict[str, object] = {
        "sysctls": {"kernel.panic": "1", "net.ipv4.conf.eth0.forwarding": "0"},
        "iptables": frozenset({"iptables filter FORWARD"}),
        "mounts": Counter({"/": 1, "/proc": 1}),
        "cgroups": frozenset({"memory/process_api"}),
        "interfaces": {"lo": "", "eth0": ""},
        "processes": {},
        "files": frozenset(),
    }
    return HostSnapshot(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_snapshot_reports_each_kind_of_difference() -> None:
    before = snapshot()
    after = snapshot(
        sysctls={
            "kernel.panic": "10",
            "net.ipv4.conf.eth0.forwarding": "0",
            "net.ipv4.conf.kasugai0.forwarding": "1",  # comes and goes with its interface
        },
        iptables=frozenset({"iptables filter FORWARD", "iptables nat KUBE-SERVICES"}),
        mounts=Counter({"/": 1, "/proc": 2}),
        cgroups=frozenset({"memory/process_api", "memory/kubepods"}),
        interfaces={"lo": "", "eth0": "", "kasugai0": ""},
        processes={42: "kubelet --config /tmp/x/kubelet.yaml"},
        files=frozenset({"/var/lib/kubelet"}),
    )
    assert before.differences(after) == [
        "sysctl kernel.panic: 1 -> 10",
        "iptables left behind: iptables nat KUBE-SERVICES",
        "mount /proc: 1 -> 2 times",
        "cgroup left behind: memory/kubepods",
        "interface left behind: kasugai0 (master -)",
        "process left behind: 42 kubelet --config /tmp/x/kubelet.yaml",
        "file left behind: /var/lib/kubelet",
    ]
    assert before.differences(snapshot()) == []


def test_forwarding_turned_on_by_a_podman_network_meanwhile_is_not_the_tiers() -> None:
    forwarding = {"net.ipv4.ip_forward": "1", "net.ipv4.conf.eth0.forwarding": "1"}
    before = snapshot(sysctls={"net.ipv4.ip_forward": "0", "net.ipv4.conf.eth0.forwarding": "0"})
    assert before.differences(snapshot(sysctls=forwarding)) == [
        "sysctl net.ipv4.conf.eth0.forwarding: 0 -> 1",
        "sysctl net.ipv4.ip_forward: 0 -> 1",
    ]
    with_podman = snapshot(sysctls=forwarding, foreign_bridges=frozenset({"podman0"}))
    assert before.differences(with_podman) == []
