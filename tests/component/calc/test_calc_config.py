"""config.yaml parsing and validation, self-address detection and the shipped template."""

from __future__ import annotations

from pathlib import Path

import pytest
from kasugai_functions.calc.config import (
    TEMPLATE_FILE,
    ConfigError,
    ConfigMissing,
    NextHop,
    install_template,
    is_own_address,
    parse_config,
    read_config,
)

TEMPLATES = Path(__file__).parents[2] / "fixtures" / "openkasugai" / "templates"
FIXTURE_TEMPLATE = TEMPLATES / "calcapp-config.yaml.tmpl"


@pytest.mark.parametrize(
    ("text", "hop"),
    [
        ('next:\n  host: "10.96.12.34"\n  port: 8080', NextHop("10.96.12.34", 8080)),
        ('next:\n  host: "localhost"\n  port: 8080\n', NextHop("localhost", 8080)),
        ("next: {host: calc-plus.default.svc.cluster.local., port: 1}", None),
        ("next: {host: '::1', port: 65535}", None),
        ("next: {host: h, port: 2}\nextra: ignored", None),
    ],
)
def test_valid_configs(text: str, hop: NextHop | None) -> None:
    parsed = parse_config(text, "config.yaml")
    if hop is not None:
        assert parsed == hop


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no 'next' mapping"),
        ("{}", "no 'next' mapping"),
        ("next:", "no 'next' mapping"),
        ("next: 10.0.0.1", "no 'next' mapping"),
        (
            "next: [",
            "invalid YAML: while parsing a flow node: did not find expected node content "
            "(line 2 column 1)",
        ),
        ("next: {port: 8080}", "next.host is missing"),
        ("next: {host: h}", "next.port is missing"),
        (
            "next: {host: 10.0.0.1:80, port: 1}",
            "next.host: neither an IP address nor a DNS name (a string of 11 characters)",
        ),
        ("next: {host: 'http://x', port: 1}", "next.host"),
        ("next: {host: 'a b', port: 1}", "next.host"),
        ("next: {host: '-oops', port: 1}", "next.host"),
        ("next: {host: 'ipv4:1.2.3.4', port: 1}", "next.host"),
        ("next: {host: 'x;reboot', port: 1}", "next.host"),
        ("next: {host: '999.1.1.1', port: 1}", "next.host"),
        ("next: {host: '', port: 1}", "next.host"),
        (f"next: {{host: {'a' * 254}, port: 1}}", "next.host"),
        ("next: {host: 1, port: 1}", "next.host: expected a string"),
        (
            "next: {host: h, port: 0}",
            "next.port: expected an integer from 1 to 65535, got a number out of range",
        ),
        ("next: {host: h, port: 65536}", "next.port"),
        ("next: {host: h, port: '8080'}", "next.port"),
        ("next: {host: h, port: true}", "next.port"),
        ("next: {host: h, port: 80.5}", "next.port"),
    ],
)
def test_invalid_configs_name_the_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(text, "/config/config.yaml")
    assert str(raised.value).startswith("/config/config.yaml: ")
    assert message in str(raised.value)


def test_targets_put_ipv6_addresses_in_brackets() -> None:
    assert NextHop("10.0.0.1", 80).target == "10.0.0.1:80"
    assert NextHop("::1", 80).target == "[::1]:80"
    assert NextHop("svc.ns", 80).target == "svc.ns:80"


def test_a_missing_file_is_its_own_kind_of_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigMissing, match="does not exist yet"):
        read_config(tmp_path)
    (tmp_path / "config.yaml").write_text("next: {host: h, port: 1}")
    assert read_config(tmp_path) == NextHop("h", 1)


@pytest.mark.parametrize(
    ("hop", "listen_host", "expected"),
    [
        (NextHop("localhost", 8080), "0.0.0.0", True),  # the template's rendering of {}
        (NextHop("localhost", 8080), "127.0.3.4", True),
        (NextHop("127.0.0.1", 8080), "0.0.0.0", True),
        (NextHop("::1", 8080), "::", True),
        (NextHop("127.0.3.4", 8080), "127.0.3.4", True),
        (NextHop("127.0.3.5", 8080), "127.0.3.4", False),  # a neighbour on the local runtime
        (NextHop("127.0.0.1", 8080), "127.0.3.4", False),
        (NextHop("localhost", 8081), "0.0.0.0", False),
        (NextHop("10.96.0.1", 8080), "0.0.0.0", False),
    ],
)
def test_own_address(hop: NextHop, listen_host: str, expected: bool) -> None:
    assert is_own_address(hop, listen_host, 8080) is expected


def test_the_shipped_template_is_the_original(tmp_path: Path) -> None:
    assert install_template(tmp_path) is True
    assert (tmp_path / TEMPLATE_FILE).read_bytes() == FIXTURE_TEMPLATE.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == [TEMPLATE_FILE]  # no temporary file left


def test_an_existing_template_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / TEMPLATE_FILE).write_text("mine")
    assert install_template(tmp_path) is False
    assert (tmp_path / TEMPLATE_FILE).read_text() == "mine"


def test_a_missing_directory_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        install_template(tmp_path / "absent")
