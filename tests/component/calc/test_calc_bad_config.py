"""Bad configurations: each is logged clearly, the last good next hop stays, nothing crashes, and
a request that cannot be forwarded comes back NG with the reason (the client exits 1).
"""

from __future__ import annotations

import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
from kasugai_functions.calc.arithmetic import Operator
from kasugai_functions.calc.config import CONFIG_FILE
from kasugai_functions.calc.testing import CalcProcess, LocalCalc, run_client

from kasugai.atomic_files import write_atomically
from kasugai.core import bounded
from kasugai.testing.hostile import JSON_TEXTS, MARKER, YAML_TEXTS, hostile_bytes


def send(first: CalcProcess, *values: str) -> subprocess.CompletedProcess[str]:
    return run_client("-host", first.host, "-port", str(first.port), *values)


def assert_ng(client: subprocess.CompletedProcess[str], *reason_parts: str) -> None:
    assert client.returncode == 1, client.stderr
    assert client.stdout.startswith("NG: "), client.stdout
    for part in reason_parts:
        assert part in client.stdout


@pytest.mark.parametrize(
    ("config", "logged"),
    [
        ("other: 1\n", "no 'next' mapping"),
        ("next: [\n", "invalid YAML"),
        ('next:\n  host: "10.0.0.1 --evil"\n  port: 8080\n', "next.host"),
        ('next:\n  host: "10.0.0.1"\n  port: 99999\n', "next.port"),
    ],
)
def test_a_bad_config_keeps_the_last_good_next_hop(
    calc: LocalCalc, config: str, logged: str
) -> None:
    receiver = calc.start("receiver", Operator.RECEIVER)
    plus = calc.start("plus", Operator.PLUS, next_host=receiver.host)

    write_atomically(plus.directory / CONFIG_FILE, config)
    plus.reload()
    [failure] = plus.wait_for_event("load config failed")
    assert logged in failure["error"]
    assert failure["keeping_next"] == receiver.address

    client = send(plus, "1", "2")
    assert client.stdout.strip() == "OK", client.stderr
    receiver.wait_for_event("result")
    assert len(plus.events("connecting")) == 1  # nothing odd was ever dialled
    assert plus.process.poll() is None


def test_a_function_started_before_its_config_forwards_once_it_arrives(calc: LocalCalc) -> None:
    """The sidecar renders config.yaml after the function started; the first SIGHUP connects it,
    and a request that came in meanwhile is held until then (a Pod replaced under the same
    address gets traffic before its first render), not answered NG."""
    receiver = calc.start("receiver", Operator.RECEIVER)
    plus = calc.start("plus", Operator.PLUS)
    [first_load] = plus.events("load config")
    assert first_load["found"] is False
    with ThreadPoolExecutor(1) as pool:
        early = pool.submit(send, plus, "1", "2")
        plus.wait_for_event("start call Do")
        plus.point_to(receiver.host)
        assert early.result().stdout.strip() == "OK", early.result().stdout
    plus.wait_for_event("load config", where=lambda e: e["found"])
    assert send(plus, "1", "2").stdout.strip() == "OK"


def test_a_config_that_never_comes_gives_ng_saying_so(calc: LocalCalc) -> None:
    plus = calc.start("plus", Operator.PLUS)  # held for READY_SECONDS, then NG
    assert_ng(send(plus, "1", "2"), "plus:", "does not exist yet")


def test_an_unreachable_next_hop_gives_ng_and_exit_1(calc: LocalCalc) -> None:
    plus = calc.start("plus", Operator.PLUS)
    with socket.socket() as reserved:  # bound, never listening: connections are refused
        reserved.bind((plus.host, 0))
        plus.point_to(plus.host, reserved.getsockname()[1])
        plus.wait_for_event("load config", where=lambda e: e["found"])
        assert_ng(send(plus, "1", "2"), "plus: next hop", "UNAVAILABLE")
    assert plus.process.poll() is None


def test_an_empty_connection_config_never_forwards_to_itself(calc: LocalCalc) -> None:
    """``{}`` renders as localhost:8080: the original then sent every request to itself."""
    plus = calc.start("plus", Operator.PLUS)
    write_atomically(plus.directory / CONFIG_FILE, 'next:\n  host: "localhost"\n  port: 8080\n')
    plus.reload()
    plus.wait_for_event("not forwarding")
    assert_ng(send(plus, "1", "2"), "is this function itself")
    assert len(plus.events("start call Do")) == 1


def test_a_failure_deep_in_the_chain_reaches_the_client(calc: LocalCalc) -> None:
    """The original replied OK whatever happened downstream."""
    minus = calc.start("minus", Operator.MINUS)  # no config: cannot forward
    plus = calc.start("plus", Operator.PLUS, next_host=minus.host)
    assert_ng(send(plus, "1", "2"), "minus:", "does not exist yet")
    [failure] = plus.events("forward failed")
    assert failure["reason"].startswith("minus:")


def test_the_client_without_config_says_where_it_looked() -> None:
    client = run_client("--config-dir", "/nonexistent-kasugai-dir", "1", "2")
    assert client.returncode == 1
    assert "/nonexistent-kasugai-dir/config.yaml does not exist yet" in client.stderr


def test_a_receiver_needs_no_config(calc: LocalCalc) -> None:
    receiver = calc.start("receiver", Operator.RECEIVER)
    assert receiver.events("load config") == []
    receiver.reload()
    receiver.wait_for_event("load config skipped: the receiver forwards nothing")
    assert send(receiver, "1").stdout.strip() == "OK"


def test_a_next_hop_that_starts_after_the_request_is_waited_for(calc: LocalCalc) -> None:
    """Functions of a chain start in any order: a request sent while the next hop is still
    starting waits for it (up to a few seconds) instead of failing with UNAVAILABLE."""
    receiver_host = f"{calc.subnet}.2"  # the address the next start() will take
    plus = calc.start("plus", Operator.PLUS, next_host=receiver_host)
    assert send(plus, "1", "2").returncode == 1  # nothing listens there yet: refused, then NG
    client = subprocess.Popen(
        [str(calc.executable), "-host", plus.host, "-port", "8080", "1", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    plus.wait_for_event("send message", count=2)  # the second request is waiting for its hop
    receiver = calc.start("receiver", Operator.RECEIVER)
    assert receiver.host == receiver_host
    out, err = client.communicate(timeout=60)
    assert client.returncode == 0, out + err
    assert out.strip() == "OK"
    receiver.wait_for_event("result")


def test_hostile_configs_keep_the_last_good_next_hop_and_are_never_quoted(
    calc: LocalCalc,
) -> None:
    receiver = calc.start("receiver", Operator.RECEIVER)
    plus = calc.start("plus", Operator.PLUS, next_host=receiver.host)
    hostile = [hostile_bytes(text) for text in YAML_TEXTS.values()] + [
        hostile_bytes("next:\n  host: " + text) for text in JSON_TEXTS.values()
    ]
    hostile += [
        f"next:\n  host: {MARKER}.example.com/x\n  port: 80\n".encode(),
        f"next:\n  host: 10.0.0.1\n  port: {MARKER}\n".encode(),
        b"next: {host: 10.0.0.1, port: 80}\n" + b"#" * bounded.VALUE.max_bytes,
    ]
    for number, content in enumerate(hostile, start=1):
        write_atomically(plus.directory / CONFIG_FILE, content)
        plus.reload()
        plus.wait_for_event("load config failed", count=number)
    assert all(e["keeping_next"] == receiver.address for e in plus.events("load config failed"))
    assert send(plus, "1", "2").stdout.strip() == "OK"
    assert plus.process.poll() is None
    log = plus.log_path.read_text(errors="replace")
    assert MARKER not in log
    assert "Traceback" not in log
