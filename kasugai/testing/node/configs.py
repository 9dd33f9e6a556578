"""The configuration files of the node tier's daemons, as text. No I/O here: the tier writes them.

Each setting that differs from a daemon's default says why: most keep host-wide state alone, or
fit a machine with cgroup v1 (hybrid), no swap, no systemd and no CAP_SYS_RESOURCE.
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import yaml

NETWORK_NAME = "kasugai-node"  # the CNI network; also names its cached results on the host
BRIDGE = "kasugai0"
GATEWAY = "10.244.0.1"  # the bridge's address: the node's IP, and where the apiserver listens
POD_CIDR = "10.244.0.0/16"  # podman's default network is 10.88.0.0/16
SERVICE_CIDR = "10.97.0.0/16"
CNI_BIN_DIR = Path("/usr/lib/cni")  # Debian's containernetworking-plugins


@attrs.frozen
class NodeLayout:
    """Every path of a tier, all under one folder."""

    workdir: Path

    @property
    def containerd(self) -> Path:
        return self.workdir / "containerd"

    @property
    def socket(self) -> Path:
        return self.containerd / "containerd.sock"

    @property
    def cni_conf_dir(self) -> Path:
        return self.workdir / "cni" / "net.d"

    @property
    def kubelet_root(self) -> Path:
        return self.workdir / "kubelet"

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"


def containerd_config(layout: NodeLayout, sandbox_image: str) -> str:
    root, state = layout.containerd / "root", layout.containerd / "state"
    cri = {
        "sandbox_image": sandbox_image,  # imported from an archive, never pulled
        # Root here lacks CAP_SYS_RESOURCE: without this every sandbox fails with "can't get
        # final child's PID from pipe" when runc lowers an oom_score_adj.
        "restrict_oom_score_adj": True,
        # Network namespaces under the tier's state folder, not in the host's /run/netns.
        "netns_mounts_under_state_dir": True,
        "disable_apparmor": True,
        "enable_selinux": False,
        "stream_server_address": "127.0.0.1",
        "stream_server_port": "0",
        "cni": {"bin_dir": str(CNI_BIN_DIR), "conf_dir": str(layout.cni_conf_dir)},
        "containerd": {
            "snapshotter": "overlayfs",
            "default_runtime_name": "runc",
            "runtimes": {
                "runc": {
                    "runtime_type": "io.containerd.runc.v2",
                    "options": {
                        "BinaryName": "runc",  # crun fails on this hybrid cgroup host
                        "Root": str(state / "runc"),
                        "SystemdCgroup": False,  # no systemd runs
                    },
                }
            },
        },
    }
    return _toml(
        {
            "version": 2,
            "root": str(root),
            "state": str(state),
            "disabled_plugins": [
                f"io.containerd.snapshotter.v1.{name}"
                for name in ("aufs", "btrfs", "devmapper", "zfs")
            ],
            "grpc": {"address": str(layout.socket)},
            "ttrpc": {"address": str(layout.containerd / "containerd.sock.ttrpc")},
            "plugins": {
                "io.containerd.internal.v1.opt": {"path": str(root / "opt")},
                "io.containerd.grpc.v1.cri": cri,
            },
        }
    )


def cni_config(layout: NodeLayout) -> str:
    """A bridge network on the tier's own bridge (made by the tier, with its address), with
    host-local addresses. No masquerade and no gateway mode: the CNI plugin would then turn on
    forwarding host-wide; the tier enables it on its bridge only."""
    return json.dumps(
        {
            "cniVersion": "1.0.0",
            "name": NETWORK_NAME,
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": BRIDGE,
                    "isGateway": False,
                    "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": POD_CIDR, "gateway": GATEWAY}]],
                        "routes": [{"dst": "0.0.0.0/0", "gw": GATEWAY}],
                        "dataDir": str(layout.workdir / "cni" / "ipam"),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        },
        indent=2,
    )


@attrs.frozen
class KubeletPorts:
    kubelet: int
    healthz: int


def kubelet_config(layout: NodeLayout, ca_cert: Path, ports: KubeletPorts) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": GATEWAY,
            "port": ports.kubelet,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": ports.healthz,
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(ca_cert)},  # the apiserver's client certificate
            },
            "authorization": {"mode": "Webhook"},
            "containerRuntimeEndpoint": f"unix://{layout.socket}",
            "cgroupDriver": "cgroupfs",  # no systemd
            "failCgroupV1": False,  # Kubernetes 1.35+ refuses cgroup v1 (this host: hybrid)
            "failSwapOn": False,
            "resolvConf": "",  # Pods get no name servers: no traffic leaves the machine
            "podLogsDir": str(layout.workdir / "pod-logs"),
            # Image GC and disk eviction would remove imported images or Pods on a full disk:
            # nothing here can be pulled again.
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "evictionHard": {
                "memory.available": "100Mi",
                "nodefs.available": "1%",
                "imagefs.available": "1%",
            },
            "rotateCertificates": False,
            "serverTLSBootstrap": False,
            "registerNode": True,
            # The kubelet sets vm.overcommit_memory, kernel.panic and kernel.panic_on_oops; with
            # protection on it refuses to start instead. The tier records and restores them.
            "protectKernelDefaults": False,
            "nodeStatusReportFrequency": "10s",
        },
        sort_keys=False,
    )


@attrs.frozen
class ProxyPorts:
    healthz: int
    metrics: int


def kube_proxy_config(kubeconfig: Path, node_name: str, ports: ProxyPorts) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "mode": "iptables",
            "hostnameOverride": node_name,
            "clientConnection": {"kubeconfig": str(kubeconfig)},
            "clusterCIDR": POD_CIDR,
            "bindAddress": GATEWAY,
            "healthzBindAddress": f"127.0.0.1:{ports.healthz}",
            "metricsBindAddress": f"127.0.0.1:{ports.metrics}",
            "nodePortAddresses": [f"{GATEWAY}/32"],
            # Zero leaves each conntrack sysctl as it is: they are host-wide.
            "conntrack": {
                "maxPerCore": 0,
                "min": 0,
                "tcpEstablishedTimeout": "0s",
                "tcpCloseWaitTimeout": "0s",
            },
            # Node ports on 127.0.0.1 need route_localnet=1, host-wide; none are needed.
            "iptables": {"localhostNodePorts": False},
        },
        sort_keys=False,
    )


def token_kubeconfig(server: str, ca_cert: Path, user: str, token: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "node",
                    "cluster": {"server": server, "certificate-authority": str(ca_cert)},
                }
            ],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": "node", "context": {"cluster": "node", "user": user}}],
            "current-context": "node",
        },
        sort_keys=False,
    )


def _toml(table: dict[str, object], prefix: str = "") -> str:
    """The small TOML subset containerd's config needs: tables, strings, ints, bools, lists of
    strings. Scalars first, then sub-tables, as TOML requires."""
    lines, tables = [], []
    for key, value in table.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    out = "\n".join(lines) + ("\n" if lines else "")
    for key, value in tables:
        name = f"{prefix}.{_toml_key(key)}" if prefix else _toml_key(key)
        out += f"\n[{name}]\n" + _toml(value, name)
    return out


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")
