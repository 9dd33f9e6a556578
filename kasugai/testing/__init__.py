"""Testing tools that ship with kasugai, as ``trio.testing`` ships with trio.

A real kube-apiserver and etcd on loopback (:class:`EphemeralCluster`, binaries built by
``tests/apiserver/build.sh``), CRD installation, and process groups that a test session can prove
it stopped. Free of pytest: wire them into fixtures of any test runner. A real single-node
cluster, with a kubelet and real Pods, is in :mod:`kasugai.testing.node`.
"""

from kasugai.testing.apiserver import ApiserverOptions, ClusterStartError, EphemeralCluster
from kasugai.testing.crds import install_crds, read_kustomization
from kasugai.testing.credentials import ADMIN_GROUP, ADMIN_USER, ClusterCredentials
from kasugai.testing.polling import wait_until
from kasugai.testing.processes import ManagedProcess, leftover_process_groups, start_process

__all__ = [
    "ADMIN_GROUP",
    "ADMIN_USER",
    "ApiserverOptions",
    "ClusterCredentials",
    "ClusterStartError",
    "EphemeralCluster",
    "ManagedProcess",
    "install_crds",
    "leftover_process_groups",
    "read_kustomization",
    "start_process",
    "wait_until",
]
