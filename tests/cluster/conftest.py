"""The cluster tier: one real kube-apiserver + etcd on loopback for the whole session.

Every test under tests/cluster is marked ``cluster`` (``pytest -m "not cluster"`` skips the tier
on purpose). The binaries come from ``tests/apiserver/build.sh``, run once after collection,
outside every test's timeout: a cold build takes minutes, a warm one finds its cache at once.
When the binaries cannot be had, every cluster test fails with the reason; none is skipped.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client
from tier_setup import stopped_after, tier_hooks

from kasugai.testing import EphemeralCluster, install_crds, leftover_process_groups
from kasugai.testing.tenants import install_tenant

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BUILD_SCRIPT = REPO / "tests" / "apiserver" / "build.sh"
CRD_DIR = REPO / "manifests" / "crds"
TENANT_DIR = REPO / "manifests" / "tenant"
_binaries = pytest.StashKey[Path | str]()  # the binaries' folder, or why there is none


def _build_binaries() -> Path | str:
    try:
        result = subprocess.run(
            ["bash", str(BUILD_SCRIPT)], stdout=subprocess.PIPE, text=True, check=False
        )
    except OSError as error:
        return f"cannot run {BUILD_SCRIPT}: {error}"
    if result.returncode != 0:
        return f"{BUILD_SCRIPT} failed (exit {result.returncode}); its messages are above"
    return Path(result.stdout.strip().splitlines()[-1])


pytest_collection_modifyitems, pytest_collection_finish = tier_hooks(
    HERE, pytest.mark.cluster, _binaries, _build_binaries
)


@pytest.hookimpl(trylast=True)  # after the runner has torn down what an interrupt left set up
def pytest_sessionfinish(session: pytest.Session) -> None:
    leftovers = leftover_process_groups()
    if not leftovers:
        return
    reporter = session.config.pluginmanager.getplugin("terminalreporter")
    reporter.write_sep("=", "processes left running", red=True)
    for process in leftovers:
        reporter.write_line(
            f"ERROR: {process.name} (process group {process.pid}) still runs after the "
            "tests; its fixture did not stop it",
            red=True,
        )
        process.stop()
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def testcluster_binaries(pytestconfig: pytest.Config) -> Path:
    """The folder with etcd, kube-apiserver and kubectl built by tests/apiserver/build.sh."""
    found = pytestconfig.stash.get(_binaries, "the build step did not run")
    if isinstance(found, str):
        pytest.fail(f"no kube-apiserver for the cluster tests: {found}", pytrace=False)
    return found


@pytest.fixture(scope="session")
def cluster(
    testcluster_binaries: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EphemeralCluster]:
    """etcd and kube-apiserver on 127.0.0.1 with kasugai's CRDs Established; stopped, and
    checked gone, at the end of the session."""
    started = EphemeralCluster.start(testcluster_binaries, tmp_path_factory.mktemp("cluster"))
    with stopped_after(started, "the cluster"):
        with started.api_client() as admin:
            install_crds(admin, CRD_DIR)
        yield started


@pytest.fixture(scope="session")
def kube(cluster: EphemeralCluster) -> Iterator[client.ApiClient]:
    """An admin client (system:masters) of the session's cluster."""
    with cluster.api_client() as api:
        yield api


@pytest.fixture
def namespace(kube: client.ApiClient) -> str:
    """A fresh namespace with kasugai's account in it (``manifests/tenant``). Never deleted: no
    namespace controller runs to finish a deletion."""
    name = f"t-{secrets.token_hex(4)}"
    client.CoreV1Api(kube).create_namespace({"metadata": {"name": name}})
    install_tenant(kube, TENANT_DIR, name)
    return name
