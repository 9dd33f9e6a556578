"""The command line: Go flag rules, Go float syntax, negative values, and the exit codes."""

from __future__ import annotations

import math
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kasugai_functions.calc.arithmetic import Operator
from kasugai_functions.calc.cli import (
    FLAGS,
    ClientInvocation,
    IdleInvocation,
    ServerInvocation,
    interpret,
)
from kasugai_functions.calc.goflags import FlagError, HelpRequested, parse_flags, parse_go_float
from kasugai_functions.calc.testing import run_client


def invocation(*args: str) -> ServerInvocation | ClientInvocation | IdleInvocation:
    return interpret(*parse_flags(FLAGS, args))


@pytest.mark.parametrize(
    "args",
    [
        ["-server", "-port", "8080", "-operator", "plus"],
        ["--server", "--port", "8080", "--operator", "plus"],
        ["-server=true", "-port=8080", "-operator=plus"],
        ["-operator", "plus", "-server", "-port", "0x1F90"],
        ["-server", "-operator", "plus"],  # port 8080 by default
    ],
)
def test_server_command_lines(args: list[str]) -> None:
    assert invocation(*args) == ServerInvocation(Operator.PLUS, 8080, config_dir="")


def test_config_dir_flag_in_both_spellings() -> None:
    for args in (["--config-dir", "/c"], ["-config-dir=/c"]):
        parsed = invocation(*args, "-server", "-operator", "receiver")
        assert parsed == ServerInvocation(Operator.RECEIVER, 8080, config_dir="/c")


def test_metrics_port_and_request_id_flags() -> None:
    server = invocation("-server", "-operator", "plus", "-metrics-port", "0")
    assert server == ServerInvocation(Operator.PLUS, 8080, "", metrics_port=0)
    server = invocation("-server", "-operator", "plus")
    assert isinstance(server, ServerInvocation) and server.metrics_port is None  # env, else 9464
    client = invocation("--request-id", "trace-1.a:b_c", "1")
    assert isinstance(client, ClientInvocation) and client.request_id == "trace-1.a:b_c"


def test_idle_command_lines() -> None:
    assert invocation("-idle") == IdleInvocation(config_dir="")
    assert invocation("-idle", "--config-dir", "/c") == IdleInvocation(config_dir="/c")
    for args in (["-idle", "1"], ["-idle", "-server", "-operator", "plus"]):
        with pytest.raises(FlagError, match="-idle takes no values and no -server"):
            invocation(*args)


@pytest.mark.parametrize(
    ("args", "values"),
    [
        (["1", "2", "3"], (1.0, 2.0, 3.0)),
        (["-1", "-2.5", "3"], (-1.0, -2.5, 3.0)),  # negative values need no "--"
        (["-host", "10.0.0.1", "-port", "9", "-3", "1e3"], (-3.0, 1000.0)),
        (["--", "-1"], (-1.0,)),
        (["-server=false", "1", "-inf", "Infinity", "0x1p-2", ".5", "+7"], None),
    ],
)
def test_client_command_lines(args: list[str], values: tuple[float, ...] | None) -> None:
    parsed = invocation(*args)
    assert isinstance(parsed, ClientInvocation)
    if values is not None:
        assert parsed.values == values
    else:
        assert parsed.values == (1.0, -math.inf, math.inf, 0.25, 0.5, 7.0)


def test_nan_is_a_value() -> None:
    parsed = invocation("NaN")
    assert isinstance(parsed, ClientInvocation) and math.isnan(parsed.values[0])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-bogus"], "flag provided but not defined: -bogus"),
        (["-port"], "flag needs an argument: -port"),
        (["-port", "http"], 'invalid value "http" for flag -port'),
        (["-port", " 80", "1"], 'invalid value " 80" for flag -port'),
        (["-port", "70000", "1"], "-port: expected a port from 1 to 65535"),
        (["-server=maybe"], 'invalid boolean value "maybe" for -server'),
        (["---x"], "bad flag syntax: ---x"),
        (["-=x"], "bad flag syntax: -=x"),
        (["-server", "-operator", "modulo"], "-operator: expected one of plus,minus,"),
        (["-server", "-operator", "plus", "1"], "server mode takes no values"),
        ([], "zero values"),
        (["1", "-port", "2"], "values: invalid number '-port'"),  # flags come before values
        (["1_000"], "values: invalid number"),
        (["-nan"], "flag provided but not defined: -nan"),  # Go's ParseFloat has no signed nan
        (["1e400"], "out of the float64 range"),
        (["0x1"], "values: invalid number"),  # a hex float needs its p exponent
        (["-host", "10.0.0.1:80", "1"], "-host: '10.0.0.1:80': neither an IP address"),
        (["-host", "a b", "1"], "-host: 'a b': neither"),
        (["-server", "-operator", "plus", "-metrics-port", "x"], "-metrics-port: expected a port"),
        (["-server", "-operator", "plus", "-metrics-port=-1"], "-metrics-port: expected a port"),
        (["-request-id", "a b", "1"], "-request-id: expected 1 to 128 characters"),
        (["-request-id", "x" * 129, "1"], "-request-id: expected 1 to 128 characters"),
    ],
)
def test_bad_command_lines_say_what_is_wrong(args: list[str], message: str) -> None:
    with pytest.raises(FlagError) as raised:
        invocation(*args)
    assert message in str(raised.value)


@pytest.mark.parametrize("flag", ["-h", "-help", "--help"])
def test_help_is_a_request_not_an_error(flag: str) -> None:
    with pytest.raises(HelpRequested):
        invocation(flag)


@given(st.floats(allow_nan=False))
def test_every_float_written_by_python_reads_back_as_a_value(value: float) -> None:
    text = repr(value)
    assert parse_go_float(text) == value
    _, rest = parse_flags(FLAGS, [text, "1"])
    assert rest == [text, "1"]


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_hexadecimal_floats_read_back(value: float) -> None:
    assert parse_go_float(value.hex()) == value


def test_the_program_exits_2_on_usage_errors_and_0_on_help() -> None:
    bad = run_client("-bogus")
    assert bad.returncode == 2
    assert "flag provided but not defined: -bogus" in bad.stderr
    assert "Usage:" in bad.stderr and "-operator string" in bad.stderr
    helped = run_client("-h")
    assert helped.returncode == 0
    assert "(server mode) -server -port <port> -operator <operator>" in helped.stderr
    assert "-port int\n    \tport number (default 8080)" in helped.stderr


def test_the_client_exits_1_when_nothing_answers() -> None:
    # A bound socket that never listens: connections to it are refused, and no one else gets it.
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        failed = run_client("-host", "127.0.0.1", "-port", str(port), "1", "2")
    assert failed.returncode == 1
    assert "UNAVAILABLE" in failed.stderr
