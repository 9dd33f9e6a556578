"""``kasugai-sidecar render`` and the sidecar's start-up checks, run as the real program."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import goparity
from kasugai_sidecar.testing import SIDECAR_PROGRAM

RECORDED = {v["name"]: v for v in json.loads(goparity.VECTORS.read_text())}


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SIDECAR_PROGRAM), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env if env is not None else os.environ.copy(),
        check=False,
    )


def test_render_prints_what_go_prints(tmp_path: Path) -> None:
    for name in ("config-pip.yaml.tmpl", "calcapp-config.yaml.tmpl"):
        for config in ("one", "several", "empty"):
            vector = RECORDED[f"{name}/{config}"]
            data = tmp_path / "config.json"
            data.write_text(vector["data"])
            result = run("render", str(goparity.TEMPLATES / name), "--data", str(data))
            if vector["kind"] == "output":
                assert (result.returncode, result.stdout) == (0, vector["output"]), result.stderr
            else:
                assert result.returncode == 1
                assert result.stdout == ""
                assert "index of untyped nil" in result.stderr


def test_render_rejects_bad_data_naming_the_field(tmp_path: Path) -> None:
    data = tmp_path / "config.json"
    data.write_text('{"ips": ["10.0.0.1"], "ports": [{"port": 0, "protocol": "TCP"}]}')
    result = run("render", str(goparity.TEMPLATES / "config-pip.yaml.tmpl"), "--data", str(data))
    assert result.returncode == 1
    assert result.stdout == ""
    assert (
        "config.ports[0].port: not a port number: use an integer from 1 to 65535, "
        "got a number out of range" in result.stderr
    )


def test_render_reports_a_parse_error_with_its_line(tmp_path: Path) -> None:
    template = tmp_path / "bad.tmpl"
    template.write_text("line one\n{{if .ips}}\nno end\n")
    data = tmp_path / "config.json"
    data.write_text("{}")
    result = run("render", str(template), "--data", str(data))
    assert result.returncode == 1
    assert "template: bad.tmpl:" in result.stderr
    assert "unexpected EOF" in result.stderr


def test_render_reports_a_missing_file(tmp_path: Path) -> None:
    result = run("render", str(tmp_path / "nope.tmpl"), "--data", str(tmp_path / "nope.json"))
    assert result.returncode == 1
    assert "nope.json" in result.stderr


def test_a_missing_process_name_is_a_usage_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_MNG_")}
    result = run("--source", f"file:{tmp_path / 'c.json'}", "--config-dir", str(tmp_path), env=env)
    assert result.returncode == 2
    assert "SIDECAR_MNG_PROSESS_NAME is not set" in result.stderr


def test_the_api_source_needs_the_pod_name(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("K8S_")}
    env["SIDECAR_MNG_PROCESS_NAME"] = "calcapp"  # the correct spelling is accepted too
    result = run("--config-dir", str(tmp_path), env=env)
    assert result.returncode == 2
    assert "K8S_POD_NAME and K8S_POD_NAMESPACE must be set" in result.stderr


def test_an_unknown_source_is_a_usage_error(tmp_path: Path) -> None:
    env = {**os.environ, "SIDECAR_MNG_PROSESS_NAME": "calcapp"}
    result = run("--source", "etcd", "--config-dir", str(tmp_path), env=env)
    assert result.returncode == 2
    assert "use `kubernetes` or `file:PATH`" in result.stderr
