"""End to end: kasugai from its manifests and the original samples on a real single node, with
nothing played. The controller runs as Pods of its image, functions run as Pods of kasugai's
images under the original names, kube-proxy routes the Services; only the LoadBalancer's ingress
address is written by the test, as there is no MetalLB.

What the tier needs is made once per session after collection, outside every test's timeout,
with its progress shown live: the node tier's binaries and pause image
(``kasugai.testing.node.prepare_node_inputs``) and kasugai's four images with their archives
(``kasugai.testing.images.build_images``). When any of it cannot be had, every test here fails
with the reason; none is skipped. Every test here is marked ``node``. The module gets one tier,
which holds the machine-wide lock of the node tier while it runs, and stops it before the next
module (tests/node's) starts its own.
"""

from __future__ import annotations

import json
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from tier_setup import stopped_after, tier_hooks

from kasugai.testing.images import ImageBuildError, build_images
from kasugai.testing.node import EphemeralNode, NodeInputs, NodeInputsError, prepare_node_inputs
from kasugai.testing.podman import PodmanError

HERE = Path(__file__).resolve().parent


@attrs.frozen
class Image:
    """One of kasugai's images as the tier imports it."""

    names: tuple[str, ...]  # e.g. localhost/kasugai/calc:latest, localhost/cpufunc_calcapp:latest
    archive: Path
    image_id: str  # sha256:<config digest>, as the kubelet reports a container's imageID


@attrs.frozen
class E2EInputs:
    node: NodeInputs
    images: dict[str, Image]  # controller, sidecar, calc, video


_inputs = pytest.StashKey[E2EInputs | str]()  # what the tests need, or why it cannot be had


def _prepare() -> E2EInputs | str:
    try:
        node = prepare_node_inputs()
    except NodeInputsError as error:
        return f"no node tier: {error}"
    try:
        built = build_images(export=True)
    except (ImageBuildError, PodmanError, OSError) as error:
        return f"the images could not be built: {error}"
    images = {}
    for image in built:
        assert image.archive is not None  # export=True
        images[image.spec.name] = Image(image.spec.names, image.archive, _image_id(image.archive))
    return E2EInputs(node, images)


pytest_collection_modifyitems, pytest_collection_finish = tier_hooks(
    HERE, pytest.mark.node, _inputs, _prepare
)


def _image_id(archive: Path) -> str:
    """The image's ID from the archive itself (the podman store is shared, and its tags move)."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None, f"{archive} has no manifest.json"
        (entry,) = json.load(member)
    return "sha256:" + str(entry["Config"]).removesuffix(".json")


@pytest.fixture(scope="session")
def e2e_inputs(pytestconfig: pytest.Config) -> E2EInputs:
    """The tier's binaries and images, and kasugai's images."""
    found = pytestconfig.stash.get(_inputs, "the build step did not run")
    if isinstance(found, str):
        pytest.fail(found, pytrace=False)
    return found


@pytest.fixture(scope="module")
def node(
    e2e_inputs: E2EInputs, tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[EphemeralNode]:
    """A running single node with kasugai's four images imported; stopped, and checked gone,
    after the module."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    inputs = e2e_inputs.node
    started = EphemeralNode.start(
        inputs.bin_dir, inputs.pause_archive, tmp_path_factory.mktemp("node")
    )
    try:
        for name, image in e2e_inputs.images.items():
            began = time.monotonic()
            started.import_image(image.archive)
            with capture.global_and_fixture_disabled():
                print(f"node tier: imported {name} in {time.monotonic() - began:.1f} s", flush=True)
    except BaseException:
        started.stop()
        raise
    with stopped_after(started, "the node tier"):
        yield started
