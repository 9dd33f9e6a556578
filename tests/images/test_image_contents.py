"""What every image holds and how it starts: the Dockerfile's user, entrypoint and command, and no
compiler, pip cache, apt lists or build-stage leftovers in the final image."""

from __future__ import annotations

import json

import pytest
from image_containers import Containers

from kasugai.testing.images import IMAGES, BuiltImage
from kasugai.testing.podman import Podman

# name -> (User, Entrypoint, Cmd) of the image config, as each Dockerfile (or the base) says.
EXPECTED_CONFIG = {
    "controller": ("65532:65532", ["kasugai"], ["controller"]),
    "sidecar": ("", None, ["/sidecar"]),
    "calc": ("", None, ["python3"]),  # the base's: the sample Pods always give a command
    "video": ("", None, ["/wrapper"]),
}
INSPECTION = r"""
for tool in gcc cc g++ c++ clang make; do
  command -v "$tool" >/dev/null && echo "compiler: $tool"
done
for path in /root/.cache /tmp/pip-* /staging /src /opt/pip /wheels; do
  [ -e "$path" ] && echo "leftover: $path"
done
for list in /var/lib/apt/lists/*; do
  case "$list" in
    */lock|*/partial|*/auxfiles|'/var/lib/apt/lists/*') ;;
    *) echo "apt list: $list";;
  esac
done
exit 0
"""


@pytest.mark.parametrize("name", [spec.name for spec in IMAGES])
def test_the_image_starts_as_its_dockerfile_says(images: dict[str, BuiltImage], name: str) -> None:
    config = json.loads(
        Podman()
        .run("image", "inspect", "--format", "{{json .Config}}", images[name].reference)
        .stdout
    )
    found = (config.get("User", ""), config.get("Entrypoint"), config.get("Cmd"))
    assert found == EXPECTED_CONFIG[name]


@pytest.mark.parametrize("name", [spec.name for spec in IMAGES])
def test_the_image_holds_no_build_tools_or_caches(
    images: dict[str, BuiltImage], containers: Containers, name: str
) -> None:
    result = containers.run(
        images[name].reference, "-c", INSPECTION, entrypoint="/bin/sh", user="0"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == []


@pytest.mark.parametrize("name", [spec.name for spec in IMAGES])
def test_the_image_carries_both_its_names(images: dict[str, BuiltImage], name: str) -> None:
    podman = Podman()
    ids = {podman.image_id(n) for n in (images[name].reference, *images[name].spec.names)}
    assert len(ids) == 1


def test_the_sidecar_image_runs_the_sidecar_by_default(containers: Containers) -> None:
    """No command given, as in a Pod spec without one: /sidecar starts and names what it lacks."""
    result = containers.run("localhost/cpufunc_sidecar:latest")
    assert result.returncode == 2
    assert "SIDECAR_MNG_PROSESS_NAME is not set" in result.stderr


# Run with -B, so that nothing this check imports writes bytecode it would then find.
CALC_BYTECODE_CHECK = r"""
import importlib.util, os, sys
import kasugai_functions.calc.server, kasugai_functions.calc.client
print(len(sys.modules))
for module in list(sys.modules.values()):
    source = getattr(module, "__file__", None) or ""
    if source.endswith(".py") and not os.path.exists(importlib.util.cache_from_source(source)):
        print("no bytecode:", source)
"""


def test_the_calc_image_holds_bytecode_for_what_a_function_imports(
    images: dict[str, BuiltImage], containers: Containers
) -> None:
    """Else every new container compiles each module before the function accepts connections."""
    result = containers.run(
        images["calc"].reference, "-B", "-c", CALC_BYTECODE_CHECK, entrypoint="python3"
    )
    assert result.returncode == 0, result.stderr
    count, *missing = result.stdout.splitlines()
    assert int(count) > 100  # the check saw the function's modules
    assert missing == []
