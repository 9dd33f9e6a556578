"""The node tier: a real single-node cluster (kubelet, containerd, kube-proxy, ...) on this
machine, as root. See kasugai/testing/node.

Every test here is marked ``node``. What the tier needs is made once per session after
collection, outside every test's timeout, with its progress shown live: the binaries by
``tests/apiserver/build.sh`` (shared with the cluster tier), the pause and busybox images by
kasugai.testing.node.images. When any of it cannot be had, the tests fail with the reason; none
is skipped. Each module gets its own tier (two cannot run at once: they share the host's
iptables, cgroups and sysctls).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from node_workloads import start_node
from tier_setup import stopped_after, tier_hooks

from kasugai.testing.node import EphemeralNode, NodeInputs, NodeInputsError, prepare_node_inputs

HERE = Path(__file__).resolve().parent


_inputs = pytest.StashKey[NodeInputs | str]()  # what the tier needs, or why it cannot be had


def _prepare() -> NodeInputs | str:
    try:
        return prepare_node_inputs()
    except NodeInputsError as error:
        return str(error)


pytest_collection_modifyitems, pytest_collection_finish = tier_hooks(
    HERE, pytest.mark.node, _inputs, _prepare
)


@pytest.fixture(scope="session")
def node_inputs(pytestconfig: pytest.Config) -> NodeInputs:
    """The binaries and image archives the node tier needs."""
    found = pytestconfig.stash.get(_inputs, "the build step did not run")
    if isinstance(found, str):
        pytest.fail(f"no node tier: {found}", pytrace=False)
    return found


@pytest.fixture(scope="module")
def node(
    node_inputs: NodeInputs, tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[EphemeralNode]:
    """A running single-node cluster for this module's tests; stopped, and checked gone, after."""
    started = start_node(node_inputs, tmp_path_factory.mktemp("node"))
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():  # the figure the tier is judged by, shown live
        print(f"\nnode tier: Ready {started.ready_seconds:.1f} s after start", flush=True)
    with stopped_after(started, "the node tier"):
        yield started
