"""The sidecar's pure rules: which process is the function, what config is acceptable."""

from __future__ import annotations

import pytest
from kasugai_sidecar.connection import InvalidConnectionConfig, parse_connection_config
from kasugai_sidecar.processes import name_matches


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["/calcapp", "-server", "-port", "8080"], "/calcapp"),  # the original sample
        (["/wrapper"], "wrapper"),  # basename: the original never matched this
        (["/usr/local/bin/kasugai-calc", "-server"], "kasugai-calc"),
        (["/calcapp", "-server"], "/calcapp -server"),  # the original prefix rule
        (["/venv/bin/python3", "/venv/bin/kasugai-calc", "-server"], "kasugai-calc"),
        (["python3.11", "/venv/bin/kasugai-wrapper"], "kasugai-wrapper"),
        (["/usr/bin/python", "sighup_counter.py", "log"], "sighup_counter.py"),
    ],
)
def test_matches(argv: list[str], name: str) -> None:
    assert name_matches(argv, name)


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["/wrapper"], "/calcapp"),
        (["bash", "-c", "/calcapp -server"], "/calcapp"),  # only argv[0] or a python's argv[1]
        (["/venv/bin/kasugai-sidecar", "kasugai-calc"], "kasugai-calc"),  # not a python
        (["/venv/bin/python3", "-m", "kasugai-calc"], "kasugai-calc"),
        ([], "calcapp"),
        (["/calcapp"], ""),  # an empty name matches nothing, not everything
    ],
)
def test_does_not_match(argv: list[str], name: str) -> None:
    assert not name_matches(argv, name)


def test_fan_out_config_is_accepted_and_typed() -> None:
    data, config = parse_connection_config(
        '{"ips": ["10.0.0.1"], "ports": [{"port": 8080.0, "protocol": "TCP"}],'
        ' "outputs": {"0": {"ips": ["fd00::2"], "ports": [{"port": 5678, "protocol": "UDP"}]}},'
        ' "note": "unknown keys reach the templates"}'
    )
    assert config.ports[0].port == 8080
    assert config.outputs["0"].ips == ["fd00::2"]
    assert data["note"] == "unknown keys reach the templates"
    assert data["ports"][0]["port"] == 8080.0  # templates get float64, as Go's do


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[]", "config: expected a JSON object, got a list"),
        ('{"ips": "10.0.0.1"}', "config.ips: expected a list, got a string"),
        ('{"ips": [167772161]}', "config.ips[0]: expected an IP address as a string"),
        ('{"ips": ["10.0.0.300"]}', "config.ips[0]: not an IP address (a string of 10 characters)"),
        ('{"ips": ["fe80::1%eth0"]}', "config.ips[0]: an address with a zone"),
        (
            '{"ports": [{"port": true, "protocol": "TCP"}]}',
            "config.ports[0].port: not a port number: use an integer from 1 to 65535, "
            "got a boolean",
        ),
        ('{"ports": [{"port": 80.5, "protocol": "TCP"}]}', "config.ports[0].port: not a port"),
        ('{"ports": [{"port": 8e4, "protocol": "TCP"}]}', "config.ports[0].port: not a port"),
        (
            '{"ports": [{"port": 80, "protocol": "ICMP"}]}',
            "config.ports[0].protocol: not a protocol: use TCP, UDP or SCTP, got another string",
        ),
        ('{"ports": [{"port": 80}]}', "config.ports[0].protocol: required field missing"),
        ('{"outputs": {"x": {}}}', "config.outputs['x']: output key 'x' is not a port number"),
        ('{"outputs": []}', "config.outputs: expected an object, got a list"),
        ('{"ips": [NaN]}', "config: not valid JSON: invalid JSON literal NaN"),
        ('{"ips": ' + "[" * 200 + "]" * 200 + "}", "config: nested deeper than 100 levels"),
        ('{"ips": [' + "1" * 5000 + "]}", "config: a number longer than 100 characters"),
    ],
)
def test_bad_config_names_the_field(text: str, problem: str) -> None:
    with pytest.raises(InvalidConnectionConfig) as caught:
        parse_connection_config(text)
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems
