"""The packaged templates, rendered by the sidecar's renderer, make configs the wrapper accepts."""

from __future__ import annotations

from pathlib import Path

import pytest
from kasugai_functions.video.pipeline_config import ConfigError, parse_pipeline_config
from kasugai_functions.video.templates import NAMES, install_template, template_text
from kasugai_functions.video.testing import connection_json
from kasugai_sidecar.connection import parse_connection_config
from kasugai_sidecar.rendering import render_template

ORIGINALS = Path(__file__).parents[2] / "fixtures" / "openkasugai" / "templates"
BIND = "address=${KASUGAI_POD_IP:-0.0.0.0} "


def render(name: str, host: str | None, tmp_path: Path) -> str:
    install_template(name, tmp_path)
    data, _ = parse_connection_config(connection_json(host, 5678))
    return render_template(tmp_path / "config.yaml.tmpl", data)


@pytest.mark.parametrize(
    ("name", "original"), [("relay", "pip"), ("receiver", "rcv"), ("dsa", "dsa")]
)
def test_gstreamer_templates_are_the_originals_bound_to_the_pod_address(
    name: str, original: str
) -> None:
    text = template_text(name)
    assert text.count(BIND) == 1
    assert text.replace(BIND, "") == (ORIGINALS / f"config-{original}.yaml.tmpl").read_text()


@pytest.mark.parametrize("name", ["relay", "inference", "dsa"])
def test_forwarding_templates_render_to_a_valid_config(name: str, tmp_path: Path) -> None:
    config = parse_pipeline_config(render(name, "10.96.1.2", tmp_path), "config.yaml")
    assert "10.96.1.2" in " ".join(config.command)


def test_the_receiver_template_renders_for_the_last_hop(tmp_path: Path) -> None:
    config = parse_pipeline_config(render("receiver", None, tmp_path), "config.yaml")
    assert "filesink location=rcv_video.mp4" in config.command[-1]


def test_inference_renders_without_a_shell(tmp_path: Path) -> None:
    config = parse_pipeline_config(render("inference", "10.96.1.2", tmp_path), "config.yaml")
    assert config.command == ("kasugai-infer", "--to", "10.96.1.2", "--to-port", "5678")


def test_install_template_keeps_an_existing_one(tmp_path: Path) -> None:
    assert install_template("relay", tmp_path / "config")
    (tmp_path / "config" / "config.yaml.tmpl").write_text("mine")
    assert not install_template("receiver", tmp_path / "config")
    assert (tmp_path / "config" / "config.yaml.tmpl").read_text() == "mine"
    assert set(NAMES) == {"relay", "receiver", "inference", "dsa"}


@pytest.mark.parametrize(
    "text",
    [
        "command: [gst-launch-1.0, udpsink, host=10.0.0.1, port=5678]",
        "command: [kasugai-infer, --to-port, 5678]",  # an unquoted port is a YAML int
        'command: [bash, -c, "udpsrc address=${KASUGAI_POD_IP:-0.0.0.0} port=5678"]',
        "command: [gst-launch-1.0, udpsink, host=fd00::1]",
    ],
)
def test_valid_configs(text: str) -> None:
    assert parse_pipeline_config(text, "config.yaml").command[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a list", "missing field 'command'"),
        ("command: echo", "non-empty list"),
        ("command: [echo, true]", "command[1] must be a non-empty string"),
        ("command: [echo, '']", "command[1] must be a non-empty string"),
        ('command: [bash, -c, "x host=10.0.0.1$(reboot)"]', "command[2] host="),
        ("command: [x, port=80;reboot]", "command[1] port="),
        ("command: [x, port=0]", "not a port number"),
    ],
)
def test_invalid_configs_name_the_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"^config\.yaml: ") as caught:
        parse_pipeline_config(text, "config.yaml")
    assert message in str(caught.value)
