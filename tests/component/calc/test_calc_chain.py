"""The 7-function chain of the calc scenario, as real processes: send → plus → minus → multiply →
divide → average_results → receiver. The results are read from the receiver's log, as the demo
reads them. No SIGHUP is sent here: every function finds its config.yaml at start.
"""

from __future__ import annotations

import math

import pytest
from kasugai_functions.calc.testing import (
    SAMPLE_CHAIN,
    CalcProcess,
    LocalCalc,
    iter_results,
    run_client,
)

NAMES = ["plus", "minus", "multiply", "divide", "average"]


@pytest.fixture
def chain(calc: LocalCalc) -> list[CalcProcess]:
    return calc.start_chain(SAMPLE_CHAIN)


def send(calc: LocalCalc, chain: list[CalcProcess], *values: str) -> None:
    """Send like the "send" Pod does: no -host, the next hop comes from its config.yaml."""
    client = run_client("--config-dir", str(calc.send_directory(chain[0])), *values)
    assert client.returncode == 0, client.stderr
    assert client.stdout.strip() == "OK"


def received(chain: list[CalcProcess], inputs: list[float]) -> list[tuple[str, float]]:
    receiver = chain[-1]
    receiver.wait_for_event("result", where=lambda e: e["inputs"] == inputs)
    matches = [r for i, r in iter_results(receiver.events()) if i == inputs]
    assert len(matches) == 1, matches
    return matches[0]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", "2", "3"], [6.0, -4.0, 6.0, 0.16666666666666666, 2.0416666666666665]),
        (["1", "2", "3", "4", "5"], [15.0, -13.0, 120.0, 0.008333333333333333, 30.502083333333335]),
    ],
)
def test_the_contract_worked_examples_come_out_exactly(
    calc: LocalCalc,
    chain: list[CalcProcess],
    values: list[str],
    expected: list[float],
) -> None:
    send(calc, chain, *values)
    results = received(chain, [float(v) for v in values])
    assert results == list(zip(NAMES, expected, strict=True))


def test_ieee_values_and_short_inputs_cross_the_wire(
    calc: LocalCalc, chain: list[CalcProcess]
) -> None:
    send(calc, chain, "1", "-0")
    plus, minus, multiply, divide, average = (v for _, v in received(chain, [1.0, -0.0]))
    assert (plus, minus, multiply) == (1.0, 1.0, 0.0)
    assert math.copysign(1.0, multiply) == -1.0  # -0.0 survives the wire
    assert divide == -math.inf
    assert average == -math.inf

    send(calc, chain, "0", "0")
    values = [v for _, v in received(chain, [0.0, 0.0])]
    assert values[:3] == [0.0, 0.0, 0.0]
    assert math.isnan(values[3]) and math.isnan(values[4])

    send(calc, chain, "-7")  # one input: every fold gives 0, no "--" needed
    assert received(chain, [-7.0]) == [(name, 0.0) for name in NAMES]


def test_each_function_dials_its_next_hop_once_for_many_requests(
    calc: LocalCalc, chain: list[CalcProcess]
) -> None:
    for first in range(3):
        send(calc, chain, str(first), "1")
    chain[-1].wait_for_event("result", count=3)
    for function in chain[:-1]:
        assert len(function.events("start call Do")) == 3
        assert [e["address"] for e in function.events("connecting")] == [
            chain[chain.index(function) + 1].address
        ]


def test_the_receiver_logs_the_whole_request_and_the_original_messages(
    calc: LocalCalc, chain: list[CalcProcess]
) -> None:
    send(calc, chain, "1", "2", "3")
    receiver = chain[-1]
    [request] = receiver.wait_for_event("start call Do")
    assert request["req"]["inputs"] == [1.0, 2.0, 3.0]
    assert [r["operator"] for r in request["req"]["results"]] == NAMES
    for message in ("load config", "connecting", "send message", "recive message"):
        assert chain[0].events(message), f"plus never logged {message!r}"
