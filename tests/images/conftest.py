"""The images tier: kasugai's four container images, built with podman, really run.

The images come from ``kasugai.testing.images`` (scripts/build-images.sh), built once after
collection, outside every test's timeout, with live progress: a cold build (Debian base, then the
four images) takes minutes, a warm one finds every image in its cache at once. When they cannot
be built (podman missing, say), every test here fails with the reason; none is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from image_containers import Containers
from tier_setup import prepare_once

from kasugai.testing.images import BuiltImage, ImageBuildError, build_images
from kasugai.testing.podman import Podman, PodmanError

HERE = Path(__file__).resolve().parent
_built = pytest.StashKey[dict[str, BuiltImage] | str]()  # the images by name, or why there are none


def pytest_collection_finish(session: pytest.Session) -> None:
    prepare_once(session, HERE, _built, _build)


def _build() -> dict[str, BuiltImage] | str:
    try:
        return {image.spec.name: image for image in build_images()}
    except (ImageBuildError, PodmanError, OSError) as error:
        return f"the images could not be built: {error}"


@pytest.fixture(scope="session")
def images(pytestconfig: pytest.Config) -> dict[str, BuiltImage]:
    """The four images by name (controller, sidecar, calc, video), built or found in the cache."""
    built = pytestconfig.stash.get(_built, "the build step did not run")
    if isinstance(built, str):
        pytest.fail(built, pytrace=False)
    return built


@pytest.fixture
def containers(images: dict[str, BuiltImage]) -> Iterator[Containers]:
    """Start containers; all of them are removed, and checked gone, when the test ends."""
    started = Containers(Podman())
    try:
        yield started
    finally:
        started.remove_all()
