"""A single-node Kubernetes cluster for tests: real Pods, real Services.

:class:`EphemeralNode` runs etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
containerd (runc, Debian's CNI plugins), kube-proxy and a kubelet on this machine, as root, and
puts the host back as it was when it stops (or at the next start after a killed run). The
binaries come from ``tests/apiserver/build.sh``; the pause and test images are built here
(:mod:`.images`) and imported without a registry.
"""

from kasugai.testing.node.host import HostRestoreError
from kasugai.testing.node.images import BUSYBOX_IMAGE, build_busybox_image, build_pause_image
from kasugai.testing.node.inputs import NodeInputs, NodeInputsError, prepare_node_inputs
from kasugai.testing.node.oci import write_image_archive
from kasugai.testing.node.snapshot import HostSnapshot
from kasugai.testing.node.tier import NODE_NAME, PAUSE_IMAGE, EphemeralNode, NodeStartError

__all__ = [
    "BUSYBOX_IMAGE",
    "NODE_NAME",
    "PAUSE_IMAGE",
    "EphemeralNode",
    "HostRestoreError",
    "HostSnapshot",
    "NodeInputs",
    "NodeInputsError",
    "NodeStartError",
    "build_busybox_image",
    "build_pause_image",
    "prepare_node_inputs",
    "write_image_archive",
]
