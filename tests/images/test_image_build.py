"""The build itself: the inputs hash and the cache it keys, pip's route into a build, and the
exported archives, which a private containerd imports under the images' names."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from kasugai.testing import start_process, wait_until
from kasugai.testing.images import (
    BUILD_CERT,
    IMAGES,
    BuiltImage,
    ImageSpec,
    build_images,
    copied_sources,
    host_pip_settings,
    inputs_hash,
    pip_route_flags,
)

REPO = Path(__file__).resolve().parents[2]
SPEC = ImageSpec("toy", "Dockerfile", "localhost/toy:latest")
TOY_DOCKERFILE = """\
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE} AS build
COPY pkg pkg
RUN make
FROM ${BASE_IMAGE}
COPY --from=build /staging/ /
COPY --chmod=755 run.sh \\
     /run.sh
"""


def test_a_second_build_finds_every_image_in_the_cache(images: dict[str, BuiltImage]) -> None:
    said: list[str] = []
    again = build_images(say=said.append)
    assert [image.seconds for image in again] == [None] * len(IMAGES), said
    assert [image.reference for image in again] == [images[s.name].reference for s in IMAGES]


def test_copied_sources_are_what_the_dockerfiles_take_from_the_repository() -> None:
    calc = copied_sources((REPO / "functions" / "calc" / "Dockerfile").read_text())
    assert "functions/calc/calcapp" in calc and "kasugai" in calc
    assert not any(source.startswith("/") for source in calc)  # no COPY --from=build
    assert copied_sources(TOY_DOCKERFILE) == ["pkg", "run.sh"]


@pytest.fixture
def toy_repo(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text(TOY_DOCKERFILE)
    (tmp_path / ".dockerignore").write_text("# comment\n**/__pycache__\npkg/tools\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "module.py").write_text("x = 1\n")
    (tmp_path / "run.sh").write_text("#!/bin/sh\n")
    return tmp_path


def test_the_inputs_hash_changes_with_every_input(toy_repo: Path) -> None:
    first = inputs_hash(toy_repo, SPEC, "base-1")
    assert inputs_hash(toy_repo, SPEC, "base-1") == first
    assert inputs_hash(toy_repo, SPEC, "base-2") != first
    (toy_repo / "pkg" / "module.py").write_text("x = 2\n")
    second = inputs_hash(toy_repo, SPEC, "base-1")
    assert second != first
    (toy_repo / "run.sh").chmod(0o755)
    third = inputs_hash(toy_repo, SPEC, "base-1")
    assert third != second
    (toy_repo / "pkg" / "new.py").write_text("")
    assert inputs_hash(toy_repo, SPEC, "base-1") != third


def test_ignored_and_uncopied_files_leave_the_hash_alone(toy_repo: Path) -> None:
    first = inputs_hash(toy_repo, SPEC, "base-1")
    (toy_repo / "pkg" / "__pycache__").mkdir()
    (toy_repo / "pkg" / "__pycache__" / "module.cpython-311.pyc").write_bytes(b"\0")
    (toy_repo / "pkg" / "tools").mkdir()
    (toy_repo / "pkg" / "tools" / "helper.py").write_text("")
    (toy_repo / "notes.txt").write_text("not copied")
    assert inputs_hash(toy_repo, SPEC, "base-1") == first


def test_the_hosts_pip_route_goes_into_the_build_as_a_mounted_pip_conf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "https://pypi.example.invalid/simple")
    monkeypatch.setenv("PIP_CERT", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("PIP_FIND_LINKS", "/opt/wheels")  # a host folder: stays home
    settings = host_pip_settings()  # the real `pip config list` of this interpreter
    assert settings["index-url"] == "https://pypi.example.invalid/simple"
    assert "find-links" not in settings
    flags = pip_route_flags(settings, tmp_path)
    assert f"/etc/ssl/certs/ca-certificates.crt:{BUILD_CERT}:ro" in flags
    assert f"{tmp_path / 'pip.conf'}:/etc/pip.conf:ro" in flags
    conf = (tmp_path / "pip.conf").read_text().splitlines()
    assert conf[0] == "[global]"
    assert f"cert = {BUILD_CERT}" in conf
    assert "index-url = https://pypi.example.invalid/simple" in conf
    assert pip_route_flags({}, tmp_path) == []


def archive_tags(archive: Path) -> list[str]:
    """The names a docker archive gives its images (what `ctr images import` tags)."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        return [tag for entry in json.load(member) for tag in entry["RepoTags"]]


def test_an_export_holds_both_names(images: dict[str, BuiltImage]) -> None:
    [calc] = build_images(["calc"], export=True)
    assert calc.archive is not None and calc.archive.is_file()
    assert calc.archive.name == f"calc-{calc.reference.rsplit(':', 1)[1]}.tar"
    assert sorted(archive_tags(calc.archive)) == sorted(calc.spec.names)


CONTAINERD_CONFIG = """\
version = 2
root = "{root}/root"
state = "{root}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{root}/containerd.sock"
[ttrpc]
  address = "{root}/containerd.sock.ttrpc"
"""


def test_a_private_containerd_imports_an_export_under_its_names(
    images: dict[str, BuiltImage], tmp_path: Path
) -> None:
    """What the node tier does with `ctr -n k8s.io images import`, on a containerd of its own."""
    [sidecar] = build_images(["sidecar"], export=True)
    assert sidecar.archive is not None
    containerd, ctr = shutil.which("containerd"), shutil.which("ctr")
    assert containerd and ctr, "containerd and ctr are needed: run scripts/setup.sh"
    (tmp_path / "config.toml").write_text(CONTAINERD_CONFIG.format(root=tmp_path))
    address = ["--address", str(tmp_path / "containerd.sock"), "--namespace", "k8s.io"]
    server = start_process(
        "containerd",
        [containerd, "--config", str(tmp_path / "config.toml")],
        tmp_path / "containerd.log",
    )
    try:
        wait_until(
            lambda: subprocess.run([ctr, *address, "version"], capture_output=True).returncode == 0,
            "the private containerd to answer",
        )
        imported = subprocess.run(
            [ctr, *address, "images", "import", str(sidecar.archive)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert imported.returncode == 0, imported.stderr
        listed = subprocess.run(
            [ctr, *address, "images", "list", "--quiet"], capture_output=True, text=True
        )
        assert set(sidecar.spec.names) <= set(listed.stdout.split()), listed.stdout
    finally:
        server.stop()
