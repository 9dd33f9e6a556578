"""The calcapp image as far as it can be checked without a container engine: the Dockerfile's
sources exist, the original sample's commands work with what the image provides, and the /calcapp
launcher runs a server whose process is named /calcapp, as the sidecar expects.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

import yaml
from kasugai_functions.calc.arithmetic import Operator
from kasugai_functions.calc.cli import FLAGS, ServerInvocation, interpret
from kasugai_functions.calc.config import TEMPLATE_FILE
from kasugai_functions.calc.goflags import parse_flags
from kasugai_functions.calc.testing import LocalCalc, run_client

REPO = Path(__file__).resolve().parents[3]
DOCKERFILE = REPO / "functions" / "calc" / "Dockerfile"
LAUNCHER = REPO / "functions" / "calc" / "calcapp"
SAMPLE_CONFIGS = REPO / "tests" / "fixtures" / "openkasugai" / "calc-func" / "basic"
FIXTURE_TEMPLATE = (
    REPO / "tests" / "fixtures" / "openkasugai" / "templates" / "calcapp-config.yaml.tmpl"
)


def dockerfile_copies() -> dict[str, str]:
    """Destination → source of every COPY from the build context (not from the build stage)."""
    copies = {}
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY ") and not line.startswith("COPY --from="):
            *sources, destination = line.split()[1:]
            assert not any(s.startswith("--") for s in sources), line
            for source in sources:
                copies[destination if len(sources) == 1 else f"{destination}{source}"] = source
    return copies


def sample_app_commands() -> list[str]:
    """The shell command of the calcapp container in every config ConfigMap of the sample."""
    commands = []
    for document in yaml.safe_load_all((SAMPLE_CONFIGS / "cm-cpufunc-config.yaml").read_text()):
        for entries in document["data"].values():
            for entry in yaml.safe_load(entries):
                [app] = [c for c in entry["template"]["spec"]["containers"] if c["name"] == "app"]
                assert app["image"] == "localhost/cpufunc_calcapp:latest"
                assert app["command"][:2] == ["bash", "-c"]
                commands.append(app["command"][2])
    return commands


def test_the_dockerfile_copies_files_that_exist() -> None:
    copies = dockerfile_copies()
    for source in copies.values():
        assert (REPO / source).exists(), f"{DOCKERFILE}: COPY source {source} does not exist"
    assert copies["/calcapp"] == "functions/calc/calcapp"
    assert (REPO / copies["/config.yaml.tmpl"]).read_bytes() == FIXTURE_TEMPLATE.read_bytes()
    text = DOCKERFILE.read_text()
    assert text.startswith("#") and "ARG BASE_IMAGE=python:3.11-slim" in text


def test_the_sample_commands_need_only_what_the_image_has() -> None:
    commands = sample_app_commands()
    assert len(commands) == 7
    servers = 0
    for command in commands:
        copy, program = command.split("; ")
        assert copy == "cp /config.yaml.tmpl /config/config.yaml.tmpl"
        argv = shlex.split(program)
        if argv[0] == "tail":  # the "send" Pod idles; users exec /calcapp VALUES in it
            continue
        assert argv[0] == "/calcapp"
        assert isinstance(interpret(*parse_flags(FLAGS, argv[1:])), ServerInvocation)
        servers += 1
    assert servers == 6


def launcher_env() -> dict[str, str]:
    """Outside the image: the real interpreter, with the venv's packages and this checkout."""
    paths = [sysconfig.get_paths()["purelib"], REPO, REPO / "functions", REPO / "sidecar"]
    return {
        **os.environ,
        "CALCAPP_PYTHON": os.path.realpath(sys.executable),
        "PYTHONPATH": os.pathsep.join(map(str, paths)),
    }


def test_the_launcher_passes_bash_syntax_check() -> None:
    assert os.access(LAUNCHER, os.X_OK)
    subprocess.run(["bash", "-n", str(LAUNCHER)], check=True)


def test_the_launcher_runs_a_server_named_calcapp(calc: LocalCalc) -> None:
    receiver = calc.start(
        "receiver", Operator.RECEIVER, program=[str(LAUNCHER)], env=launcher_env()
    )
    cmdline = Path(f"/proc/{receiver.process.pid}/cmdline").read_bytes().split(b"\0")
    assert cmdline[0] == b"/calcapp"  # what SIDECAR_MNG_PROSESS_NAME=/calcapp matches
    assert (receiver.directory / TEMPLATE_FILE).read_bytes() == FIXTURE_TEMPLATE.read_bytes()

    receiver.reload()
    receiver.wait_for_event("load config skipped: the receiver forwards nothing")
    client = run_client("-host", receiver.host, "-port", str(receiver.port), "4", "2")
    assert client.stdout.strip() == "OK", client.stderr
    receiver.wait_for_event("result")
