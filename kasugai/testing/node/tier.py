"""A single-node Kubernetes cluster on this machine, for tests: :class:`EphemeralNode`.

etcd and kube-apiserver (:class:`~kasugai.testing.EphemeralCluster`), kube-controller-manager,
kube-scheduler, containerd with runc and Debian's CNI plugins, kube-proxy in iptables mode, and
a kubelet: real Pods, real Services. Everything lives under one folder, with containerd's own
socket, root and state. Pods and Services get addresses of the tier's own (10.244.0.0/16,
10.97.0.0/16) on a bridge it creates; the apiserver and the kubelet listen on the bridge's address,
which Pods reach through the ``kubernetes`` Service. A firewall rule keeps every Pod packet on
the machine.

The tier changes host-wide state (sysctls, iptables, cgroups, mounts); :mod:`.host` records it
before, and :meth:`EphemeralNode.stop` puts it back, as does the next start after a killed run.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import attrs
from kubernetes import client

from kasugai.testing.apiserver import ApiserverOptions, EphemeralCluster
from kasugai.testing.credentials import ClusterCredentials, write_credentials
from kasugai.testing.node import configs
from kasugai.testing.node.configs import BRIDGE, GATEWAY, NodeLayout
from kasugai.testing.node.host import (
    HostRecord,
    exclusive_host,
    read_sysctl,
    restore,
    write_sysctl,
)
from kasugai.testing.processes import ManagedProcess, start_process

NODE_NAME = "kasugai-node"
PAUSE_IMAGE = "localhost/kasugai/pause:1"
CONTROLLER_MANAGER = "system:kube-controller-manager"
SCHEDULER = "system:kube-scheduler"
PROXY = "system:kube-proxy"  # bound to system:node-proxier by the bootstrap policy
KUBELET = f"system:node:{NODE_NAME}"  # the Node authorizer's naming
GUARD_CHAIN = "KASUGAI-NODE-GUARD"
BRIDGE_NETFILTER = "net.bridge.bridge-nf-call-iptables"
# Images are imported, never pulled: a pull of a missing image goes to a proxy address where
# nothing listens, and fails there, before any name is looked up or packet leaves the machine.
_CLOSED = "http://127.0.0.1:9"
NO_PULLS = {name: _CLOSED for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")}
NO_PULLS |= {"NO_PROXY": "", "no_proxy": ""}


class NodeStartError(RuntimeError):
    """A daemon of the node tier did not come up; the message says which and shows its log."""


@attrs.define
class EphemeralNode:
    """A running single-node cluster. Use :meth:`start`, and always :meth:`stop`."""

    layout: NodeLayout
    record: HostRecord
    _lock: contextlib.ExitStack
    _cluster: EphemeralCluster | None = None  # None until etcd and the apiserver run
    daemons: list[ManagedProcess] = attrs.field(factory=list)  # the others, in start order
    ready_seconds: float = 0.0  # from start to a Ready node (the figure the tier is judged by)

    @classmethod
    def start(
        cls, bin_dir: Path, pause_archive: Path, workdir: Path, timeout: float = 180.0
    ) -> EphemeralNode:
        """Start every part, import the pause image, and wait until the node is Ready and
        namespaces get their ``default`` ServiceAccount. Raises (having cleaned up) when a part
        does not come up."""
        started = time.monotonic()
        lock = contextlib.ExitStack()
        lock.enter_context(exclusive_host())
        try:
            leftover = HostRecord.load()
            if leftover is not None:
                _say(f"a node tier in {leftover.workdir} was not stopped; cleaning up after it")
                restore(leftover)
            layout = NodeLayout(workdir)
            record = HostRecord.take(workdir, BRIDGE)
            record.save()
        except BaseException:
            lock.close()
            raise
        node = cls(layout, record, lock)
        try:
            node._start(bin_dir, pause_archive, timeout)
            node.ready_seconds = time.monotonic() - started
            _say(f"node {NODE_NAME} Ready {node.ready_seconds:.1f} s after start")
            # Pods need their namespace's ServiceAccount, which the controller-manager makes.
            node._await("the default ServiceAccount", node._default_service_account, timeout)
        except BaseException:
            node.stop()
            raise
        _say(f"ServiceAccounts made {time.monotonic() - started:.1f} s after start")
        return node

    def _start(self, bin_dir: Path, pause_archive: Path, timeout: float) -> None:
        layout = self.layout
        _make_network()
        creds = write_credentials(
            layout.workdir / "pki",
            GATEWAY,
            alt_names=[
                _first_service_ip(),  # the `kubernetes` Service, as Pods see the apiserver
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ],
            users={
                CONTROLLER_MANAGER: [],
                SCHEDULER: [],
                PROXY: [],
                KUBELET: ["system:nodes"],
            },
            kubelet_client=True,
        )
        options = ApiserverOptions(host=GATEWAY, service_cidr=configs.SERVICE_CIDR, with_node=True)
        self._cluster = EphemeralCluster.start(
            bin_dir, layout.workdir, timeout, options=options, credentials=creds
        )
        kubeconfigs = self._write_kubeconfigs(creds)

        self._start_containerd(timeout)
        self.import_image(pause_archive)
        layout.cni_conf_dir.mkdir(parents=True, exist_ok=True)
        (layout.cni_conf_dir / "10-kasugai-node.conflist").write_text(configs.cni_config(layout))

        self._daemon(
            "kube-controller-manager",
            f"--kubeconfig={kubeconfigs[CONTROLLER_MANAGER]}",
            "--secure-port=0",
            "--leader-elect=false",
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={creds.service_account_key}",
            f"--root-ca-file={creds.ca_cert}",
            f"--service-cluster-ip-range={configs.SERVICE_CIDR}",
            bin_dir=bin_dir,
        )
        self._daemon(
            "kube-scheduler",
            f"--kubeconfig={kubeconfigs[SCHEDULER]}",
            "--secure-port=0",
            "--leader-elect=false",
            bin_dir=bin_dir,
        )
        proxy_config = layout.workdir / "kube-proxy.yaml"
        proxy_ports = configs.ProxyPorts(*_free_ports(2))
        proxy_config.write_text(
            configs.kube_proxy_config(kubeconfigs[PROXY], NODE_NAME, proxy_ports)
        )
        self._daemon("kube-proxy", f"--config={proxy_config}", bin_dir=bin_dir)
        kubelet_config = layout.workdir / "kubelet.yaml"
        kubelet_ports = configs.KubeletPorts(*_free_ports(2, GATEWAY))
        kubelet_config.write_text(configs.kubelet_config(layout, creds.ca_cert, kubelet_ports))
        self._daemon(
            "kubelet",
            f"--config={kubelet_config}",
            f"--kubeconfig={kubeconfigs[KUBELET]}",
            f"--hostname-override={NODE_NAME}",
            f"--node-ip={GATEWAY}",
            f"--root-dir={layout.kubelet_root}",
            f"--cert-dir={layout.kubelet_root / 'pki'}",
            bin_dir=bin_dir,
        )
        self._await("the node to be Ready", self._node_ready, timeout)

    def stop(self) -> None:
        """Delete every Pod (so that the kubelet tears each down through CNI), stop every
        daemon, and put the host back as it was. Also after a failed start."""
        began = time.monotonic()
        failures = []
        if self._cluster is not None and self.daemons:
            try:
                self._delete_pods()
            except (OSError, client.ApiException, TimeoutError) as error:
                failures.append(f"deleting Pods: {error}")
        for daemon in reversed(self.daemons):
            daemon.stop()
        if self._cluster is not None:
            self._cluster.stop()
        try:
            restore(self.record)
        except RuntimeError as error:
            failures.append(str(error))
        finally:
            self._lock.close()
        if failures:
            raise RuntimeError("node tier: " + "\n".join(failures))
        _say(f"stopped, and the host restored, in {time.monotonic() - began:.1f} s")

    def import_image(self, archive: Path) -> None:
        """Import an image archive (OCI layout or ``docker save`` tar) into the tier's
        containerd, where the kubelet finds it: Pods then run it without any pull."""
        result = subprocess.run(
            [
                "ctr",
                "--address",
                str(self.layout.socket),
                "--namespace",
                "k8s.io",
                "images",
                "import",
                str(archive),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"ctr images import {archive}: {result.stderr.strip()}")

    @property
    def cluster(self) -> EphemeralCluster:
        """etcd and the apiserver, with the admin's kubeconfig."""
        if self._cluster is None:
            raise RuntimeError("the node tier's apiserver has not started")
        return self._cluster

    def api_client(self) -> client.ApiClient:
        """An admin client. Close it when done."""
        return self.cluster.api_client()

    def kubectl(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run kubectl as the admin; the caller checks the result. Its discovery cache stays
        in the tier's folder."""
        cache = f"--cache-dir={self.layout.workdir / 'kubectl-cache'}"
        return self.cluster.kubectl(cache, *args, timeout=timeout)

    @property
    def processes(self) -> list[ManagedProcess]:
        """Every daemon of the tier, in start order."""
        return [*(self._cluster.processes[::-1] if self._cluster else []), *self.daemons]

    # --- parts ---------------------------------------------------------------------------

    def _daemon(self, name: str, *flags: str, bin_dir: Path) -> None:
        """Start one of the multi-call binary's tools, logging to logs/NAME.log."""
        argv = [str(bin_dir / name), *flags]
        self.daemons.append(start_process(name, argv, self.layout.logs / f"{name}.log"))

    def _write_kubeconfigs(self, creds: ClusterCredentials) -> dict[str, Path]:
        folder = self.layout.workdir / "kubeconfigs"
        folder.mkdir(exist_ok=True)
        paths = {}
        for user, token in creds.user_tokens.items():
            path = folder / f"{user.rsplit(':', 1)[-1]}.kubeconfig"
            path.write_text(
                configs.token_kubeconfig(self.cluster.server, creds.ca_cert, user, token)
            )
            path.chmod(0o600)
            paths[user] = path
        return paths

    def _start_containerd(self, timeout: float) -> None:
        layout = self.layout
        layout.containerd.mkdir(parents=True, exist_ok=True)
        config = layout.containerd / "config.toml"
        config.write_text(configs.containerd_config(layout, PAUSE_IMAGE))
        containerd = start_process(
            "containerd",
            ["containerd", f"--config={config}"],
            layout.logs / "containerd.log",
            env={**os.environ, **NO_PULLS},
        )
        self.daemons.append(containerd)
        self._await("containerd's socket", self._containerd_serves, timeout)

    def _containerd_serves(self) -> bool:
        return (
            subprocess.run(
                ["ctr", "--address", str(self.layout.socket), "version"],
                capture_output=True,
                check=False,
                timeout=30,
            ).returncode
            == 0
        )

    def _node_ready(self) -> bool:
        with self.api_client() as api:
            try:
                node = client.CoreV1Api(api).read_node(NODE_NAME)
            except client.ApiException as error:
                if error.status == 404:
                    return False
                raise
        conditions = node.status.conditions or []
        return any(c.type == "Ready" and c.status == "True" for c in conditions)

    def _default_service_account(self) -> bool:
        with self.api_client() as api:
            accounts = client.CoreV1Api(api).list_namespaced_service_account("default")
        return any(a.metadata.name == "default" for a in accounts.items)

    def _await(self, what: str, ready: Callable[[], bool], timeout: float) -> None:
        """Poll ``ready`` until true; fail naming the first daemon that died, with its log."""
        deadline = time.monotonic() + timeout
        while not ready():
            for daemon in self.processes:
                if daemon.exited():
                    raise NodeStartError(
                        f"{daemon.name} exited with code {daemon.popen.returncode} while "
                        f"waiting for {what}; the end of {daemon.log_path}:\n{daemon.log_tail()}"
                    )
            if time.monotonic() > deadline:
                logs = "\n".join(
                    f"--- {d.name} ({d.log_path}):\n{d.log_tail(15)}" for d in self.daemons
                )
                raise NodeStartError(f"no {what} after {timeout:.0f} s\n{logs}")
            time.sleep(0.25)

    def _delete_pods(self, timeout: float = 60.0) -> None:
        """Stop what makes Pods (the controller-manager, the scheduler), delete every Pod and
        wait until the kubelet has torn them all down."""
        for daemon in self.daemons:
            if daemon.name in ("kube-controller-manager", "kube-scheduler"):
                daemon.stop()
        with self.api_client() as api:
            core = client.CoreV1Api(api)
            for pod in core.list_pod_for_all_namespaces().items:
                with contextlib.suppress(client.ApiException):
                    core.delete_namespaced_pod(
                        pod.metadata.name, pod.metadata.namespace, grace_period_seconds=1
                    )
            deadline = time.monotonic() + timeout
            while core.list_pod_for_all_namespaces().items:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"Pods still there {timeout:.0f} s after their deletion")
                time.sleep(0.25)


def _make_network() -> None:
    """The Pods' bridge with the node's address, a route sending Service addresses to it (so
    that the host never sends them to its default gateway), forwarding on the bridge only, and
    a rule dropping every packet a Pod would send off the machine."""
    for argv in (
        ["ip", "link", "add", BRIDGE, "type", "bridge"],
        ["ip", "addr", "add", f"{GATEWAY}/16", "dev", BRIDGE],
        ["ip", "link", "set", BRIDGE, "up"],
        ["ip", "route", "add", configs.SERVICE_CIDR, "dev", BRIDGE, "src", GATEWAY],
        ["iptables", "-w", "-t", "mangle", "-N", GUARD_CHAIN],
        [
            "iptables",
            "-w",
            "-t",
            "mangle",
            "-A",
            GUARD_CHAIN,
            "-i",
            BRIDGE,
            "!",
            "-o",
            BRIDGE,
            "-j",
            "DROP",
        ],
        ["iptables", "-w", "-t", "mangle", "-I", "FORWARD", "-j", GUARD_CHAIN],
    ):
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise NodeStartError(f"{' '.join(argv)}: {result.stderr.strip()}")
    # A reply from a Pod to a Pod on the same bridge is bridged, not routed: only with
    # br_netfilter does it pass conntrack, which turns a Service's DNAT back. (Recorded and put
    # back like every other sysctl.)
    if read_sysctl(BRIDGE_NETFILTER) is None:
        raise NodeStartError(
            f"{BRIDGE_NETFILTER} is missing: Services need the kernel's br_netfilter module "
            "(modprobe br_netfilter)"
        )
    write_sysctl(BRIDGE_NETFILTER, "1")
    # Forwarding for packets from the bridge only (Pod -> Service -> Pod), not host-wide.
    write_sysctl(f"net.ipv4.conf.{BRIDGE}.forwarding", "1")
    write_sysctl(f"net.ipv6.conf.{BRIDGE}.disable_ipv6", "1")


def _first_service_ip() -> str:
    import ipaddress

    return str(next(ipaddress.ip_network(configs.SERVICE_CIDR).hosts()))


def _free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _say(message: str) -> None:
    print(f"node tier: {message}", file=sys.stderr, flush=True)
