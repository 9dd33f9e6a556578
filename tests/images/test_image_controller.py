"""The controller image (localhost/kasugai-controller:latest) runs `kasugai` as its Deployment
does: user 65532, read-only root file system, and plans a sample exactly as this checkout does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from image_containers import Containers

REPO = Path(__file__).resolve().parents[2]
CONTROLLER = "localhost/kasugai-controller:latest"
SAMPLES = REPO / "manifests" / "samples"


def test_kasugai_help(containers: Containers) -> None:
    result = containers.run(CONTROLLER, "--help", read_only=True)
    assert result.returncode == 0, result.stderr
    for command in ("plan", "diff", "controller"):
        assert command in result.stdout


def test_plan_of_a_sample_matches_this_checkout(containers: Containers) -> None:
    inside = containers.run(
        CONTROLLER,
        *("plan", "-f", "/samples/calc"),
        volumes={SAMPLES: "/samples:ro"},
        read_only=True,
    )
    assert inside.returncode == 0, inside.stderr
    kasugai = Path(sys.executable).with_name("kasugai")
    here = subprocess.run(
        [kasugai, "plan", "-f", str(SAMPLES / "calc")], capture_output=True, text=True, check=True
    )
    assert inside.stdout == here.stdout
    assert "df-calcapp-wbfunction-send-cpu-pod" in inside.stdout


def test_bad_input_gets_the_usual_message_not_a_traceback(containers: Containers) -> None:
    result = containers.run(CONTROLLER, "plan", "-f", "/no/such/dir", read_only=True)
    assert result.returncode == 2
    assert "/no/such/dir" in result.stderr and "Traceback" not in result.stderr


def test_it_runs_as_the_deployment_expects(containers: Containers) -> None:
    result = containers.run(CONTROLLER, "-c", "id -u; id -g", entrypoint="/bin/sh")
    assert result.stdout.split() == ["65532", "65532"], result.stderr
