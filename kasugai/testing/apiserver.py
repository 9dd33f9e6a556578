"""A real kube-apiserver with etcd on loopback, for tests: :class:`EphemeralCluster`.

The binaries come from ``tests/apiserver/build.sh`` (one multi-call binary, ``etcd``,
``kube-apiserver`` and ``kubectl`` as symlinks to it). No kubelet, scheduler or controller-manager
runs: tests play their parts. What that means for the flags:

- RBAC authorization, and an admin bearer token in ``system:masters``; service-account tokens are
  signed, so TokenRequest works and tests can impersonate service accounts.
- The ServiceAccount admission plugin is off: it rejects Pods whose service account does not
  exist, and no controller creates ``default`` service accounts in new namespaces.
- No endpoint reconciler: it would publish the loopback address, which Endpoints reject.
- No API priority and fairness: on a loaded 2-core machine it would throttle test traffic.

Ports are picked free on 127.0.0.1; a start that loses a port race is retried on fresh ports.

The node tier (:mod:`kasugai.testing.node`) starts the same two processes with
:class:`ApiserverOptions` of its own: another address, Pods' own Service range, and the real
ServiceAccount admission, Node authorizer and endpoint reconciler, since its controller-manager
and kubelet play those parts.
"""

from __future__ import annotations

import functools
import http.client
import json
import re
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import yaml
from kubernetes import client, config

from kasugai.testing.credentials import ClusterCredentials, write_credentials
from kasugai.testing.processes import ManagedProcess, start_process

LOOPBACK = "127.0.0.1"
BINARY = "kasugai-testcluster"
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"  # allocation only: nothing routes to these addresses
START_ATTEMPTS = 3
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_PORT_TAKEN = "address already in use"


class ClusterStartError(RuntimeError):
    """etcd or the apiserver did not come up; the message carries the end of its log."""


@attrs.frozen
class ApiserverOptions:
    """Where the apiserver listens and what plays the parts of a cluster's other components.
    The defaults are the API-only tier's."""

    host: str = LOOPBACK  # an IP address of this machine, also the advertised one
    service_cidr: str = SERVICE_CLUSTER_IP_RANGE
    # True when a kube-controller-manager and a kubelet run: ServiceAccount admission, Node
    # authorization, NodeRestriction, the endpoint reconciler and kubelet client certificates
    # are then on, as in a real cluster.
    with_node: bool = False
    # More kube-apiserver flags, e.g. ``--watch-cache=false`` so that watches read etcd directly
    # and a compaction expires them as it would expire an old watch cache window.
    extra_flags: tuple[str, ...] = ()


@attrs.define
class EphemeralCluster:
    """etcd and kube-apiserver processes, their admin kubeconfig, and clients for tests."""

    workdir: Path
    server: str
    credentials: ClusterCredentials
    kubeconfig: Path
    kubectl_path: Path
    etcd: ManagedProcess
    apiserver: ManagedProcess
    etcd_url: str

    @classmethod
    def start(
        cls,
        bin_dir: Path,
        workdir: Path,
        timeout: float = 180.0,
        *,
        options: ApiserverOptions | None = None,
        credentials: ClusterCredentials | None = None,
    ) -> EphemeralCluster:
        """Start etcd, then the apiserver, and wait until the apiserver reports ready.
        ``credentials`` default to fresh ones for ``options.host``."""
        options = options or ApiserverOptions()
        binary = bin_dir / BINARY
        if not binary.is_file():
            raise FileNotFoundError(
                f"{binary} is missing: build it with `bash tests/apiserver/build.sh` "
                "(needs Go; the first build takes several minutes)"
            )
        creds = credentials or write_credentials(workdir / "pki", options.host)
        etcd, etcd_url = _start_etcd(bin_dir / "etcd", workdir, timeout)
        try:
            apiserver, server = _start_apiserver(
                bin_dir / "kube-apiserver", workdir, creds, etcd_url, timeout, options
            )
        except BaseException:
            etcd.stop()
            raise
        kubeconfig = workdir / "kubeconfig"
        _write_kubeconfig(kubeconfig, server, creds)
        return cls(
            workdir, server, creds, kubeconfig, bin_dir / "kubectl", etcd, apiserver, etcd_url
        )

    @property
    def processes(self) -> list[ManagedProcess]:
        return [self.apiserver, self.etcd]

    def stop(self) -> None:
        """Stop the apiserver, then etcd; each process group is gone when this returns. etcd's
        data goes too (its preallocated WAL alone is 64 MB); the logs stay for a post-mortem."""
        for process in self.processes:
            process.stop()
        data = self.workdir / "etcd-data"
        if data.exists() and not self.etcd.group_alive():
            shutil.rmtree(data)

    def compact_etcd(self) -> int:
        """Compact etcd's history up to its current revision, as the apiserver itself does every
        5 minutes; a watch that resumes from an older resourceVersion is then answered 410
        Gone. Uses etcd's JSON gateway on loopback; returns the revision compacted to."""
        status = _etcd_post(self.etcd_url, "/v3/maintenance/status", {})
        revision = int(status["header"]["revision"])
        _etcd_post(self.etcd_url, "/v3/kv/compaction", {"revision": revision, "physical": True})
        return revision

    def api_client(self) -> client.ApiClient:
        """A client authenticated as the admin (``system:masters``). Close it when done."""
        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def impersonating_client(self, namespace: str, service_account: str) -> client.ApiClient:
        """A client whose requests the apiserver authorizes as the service account
        ``system:serviceaccount:<namespace>:<service_account>``, with the groups the apiserver
        gives it (``system:serviceaccounts``, ``system:serviceaccounts:<namespace>``,
        ``system:authenticated``). The account need not exist. Close it when done."""
        for field, value in (("namespace", namespace), ("service_account", service_account)):
            if not _DNS_LABEL.match(value):
                raise ValueError(f"{field} {value!r} is not a DNS label (lower-case a-z, 0-9, -)")
        api = self.api_client()
        api.set_default_header(
            "Impersonate-User", f"system:serviceaccount:{namespace}:{service_account}"
        )
        return api

    def kubectl(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this cluster as the admin; the caller checks the result."""
        return subprocess.run(
            [str(self.kubectl_path), "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _start_etcd(program: Path, workdir: Path, timeout: float) -> tuple[ManagedProcess, str]:
    for _ in range(START_ATTEMPTS):
        client_port, peer_port = _free_ports(2, LOOPBACK)
        url = f"http://{LOOPBACK}:{client_port}"
        etcd = start_process(
            "etcd",
            [
                str(program),
                f"--data-dir={workdir / 'etcd-data'}",
                f"--listen-client-url={url}",
                f"--listen-peer-url=http://{LOOPBACK}:{peer_port}",
            ],
            workdir / "logs" / "etcd.log",
        )
        ready = functools.partial(_http_ok, LOOPBACK, client_port, "/health")
        if _await_ready(etcd, ready, timeout):
            return etcd, url
    raise _ports_lost("etcd")


def _start_apiserver(
    program: Path,
    workdir: Path,
    creds: ClusterCredentials,
    etcd_url: str,
    timeout: float,
    options: ApiserverOptions,
) -> tuple[ManagedProcess, str]:
    host = options.host
    for _ in range(START_ATTEMPTS):
        (port,) = _free_ports(1, host)
        apiserver = start_process(
            "kube-apiserver",
            [
                str(program),
                f"--etcd-servers={etcd_url}",
                f"--bind-address={host}",
                f"--advertise-address={host}",
                f"--secure-port={port}",
                f"--tls-cert-file={creds.serving_cert}",
                f"--tls-private-key-file={creds.serving_key}",
                f"--token-auth-file={creds.token_file}",
                f"--service-account-key-file={creds.service_account_key}",
                f"--service-account-signing-key-file={creds.service_account_key}",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-cluster-ip-range={options.service_cidr}",
                *(_node_flags(creds) if options.with_node else _api_only_flags()),
                "--allow-privileged=true",
                "--enable-priority-and-fairness=false",
                "--profiling=false",
                f"--cert-dir={workdir / 'apiserver-certs'}",
                *options.extra_flags,
            ],
            workdir / "logs" / "kube-apiserver.log",
        )
        ready = functools.partial(_http_ok, host, port, "/readyz", creds)
        if _await_ready(apiserver, ready, timeout):
            return apiserver, f"https://{host}:{port}"
    raise _ports_lost("kube-apiserver")


def _etcd_post(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url + path, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        found: dict[str, Any] = json.load(answer)
    return found


def _api_only_flags() -> list[str]:
    return [
        "--authorization-mode=RBAC",
        "--disable-admission-plugins=ServiceAccount",
        "--endpoint-reconciler-type=none",
    ]


def _node_flags(creds: ClusterCredentials) -> list[str]:
    if creds.kubelet_client_cert is None or creds.kubelet_client_key is None:
        raise ValueError("with_node needs credentials written with kubelet_client=True")
    return [
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        f"--kubelet-client-certificate={creds.kubelet_client_cert}",
        f"--kubelet-client-key={creds.kubelet_client_key}",
        # The kubelet listens on the node's InternalIP only, not on whatever its name resolves to.
        "--kubelet-preferred-address-types=InternalIP",
    ]


def _ports_lost(name: str) -> ClusterStartError:
    return ClusterStartError(
        f"{name}: another process took the free port picked for it, {START_ATTEMPTS} times"
    )


def _await_ready(process: ManagedProcess, ready: Callable[[], bool], timeout: float) -> bool:
    """Poll until ready (True); False when the process lost the race for its port and may be
    retried on another; raise when it failed otherwise or hung."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return True
        if process.exited():
            process.stop()  # reaps anything the leader left in its group
            tail = process.log_tail()
            if _PORT_TAKEN in tail:
                return False
            raise ClusterStartError(
                f"{process.name} exited with code {process.popen.returncode} before it was "
                f"ready; the end of {process.log_path}:\n{tail}"
            )
        time.sleep(0.2)
    process.stop()
    raise ClusterStartError(
        f"{process.name} was not ready after {timeout:.0f} s; the end of {process.log_path}:\n"
        f"{process.log_tail()}"
    )


def _http_ok(host: str, port: int, path: str, creds: ClusterCredentials | None = None) -> bool:
    """GET a health endpoint: plain HTTP for etcd, verified HTTPS with the admin token for the
    apiserver. Any connection error means "not yet"."""
    conn: http.client.HTTPConnection
    headers = {}
    if creds is None:
        conn = http.client.HTTPConnection(host, port, timeout=5)
    else:
        context = ssl.create_default_context(cafile=str(creds.ca_cert))
        conn = http.client.HTTPSConnection(host, port, timeout=5, context=context)
        headers["Authorization"] = f"Bearer {creds.admin_token}"
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status == 200
    except OSError:
        return False
    finally:
        conn.close()


def _free_ports(count: int, host: str) -> list[int]:
    """Ports free on ``host`` right now; all held open together so they differ."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _write_kubeconfig(path: Path, server: str, creds: ClusterCredentials) -> None:
    name = "kasugai-test"
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": name,
                "cluster": {"server": server, "certificate-authority": str(creds.ca_cert)},
            }
        ],
        "users": [{"name": "admin", "user": {"token": creds.admin_token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": "admin"}}],
        "current-context": name,
    }
    path.write_text(yaml.safe_dump(kubeconfig, sort_keys=False))
    path.chmod(0o600)
