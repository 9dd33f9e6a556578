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

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from node_workloads import NodeInputs, start_node

from kasugai.testing.node import PAUSE_IMAGE, EphemeralNode, build_busybox_image, build_pause_image

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BUILD_SCRIPT = REPO / "tests" / "apiserver" / "build.sh"
PAUSE_SOURCE = HERE / "pause" / "pause.c"
# The programs the tier runs from Debian (scripts/setup.sh installs them).
HOST_PROGRAMS = ("containerd", "containerd-shim-runc-v2", "ctr", "runc", "iptables", "ip", "gcc")
CNI_PLUGINS = Path("/usr/lib/cni")


_inputs = pytest.StashKey[NodeInputs | str]()  # what the tier needs, or why it cannot be had


@pytest.hookimpl(tryfirst=True)  # before -m deselects, so "not node" sees the mark
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.node)


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    if any(item.get_closest_marker("node") for item in session.items):
        capture = session.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():  # show a cold build's progress live
            session.config.stash[_inputs] = _prepare()


def _prepare() -> NodeInputs | str:
    if os.geteuid() != 0:
        return "the node tier runs a kubelet and containerd, which need root"
    missing = [p for p in HOST_PROGRAMS if shutil.which(p) is None]
    missing += [
        f"{CNI_PLUGINS}/{p}"
        for p in ("bridge", "host-local", "loopback", "portmap")
        if not (CNI_PLUGINS / p).is_file()
    ]
    if missing:
        return f"missing {', '.join(missing)}: run scripts/setup.sh (it installs them from Debian)"
    try:
        result = subprocess.run(
            ["bash", str(BUILD_SCRIPT)], stdout=subprocess.PIPE, text=True, check=False
        )
    except OSError as error:
        return f"cannot run {BUILD_SCRIPT}: {error}"
    if result.returncode != 0:
        return f"{BUILD_SCRIPT} failed (exit {result.returncode}); its messages are above"
    cache = _cache_dir() / "node"
    try:
        pause = build_pause_image(PAUSE_SOURCE, cache, PAUSE_IMAGE)
        busybox = build_busybox_image(cache)
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        return f"cannot build the node tier's images: {error}"
    return NodeInputs(Path(result.stdout.strip().splitlines()[-1]), pause, busybox)


def _cache_dir() -> Path:
    if explicit := os.environ.get("KASUGAI_CACHE_DIR"):
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kasugai"


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
    try:
        yield started
    finally:
        started.stop()
        alive = [p.name for p in started.processes if p.group_alive()]
        assert not alive, f"still running after the node tier was stopped: {alive}"
