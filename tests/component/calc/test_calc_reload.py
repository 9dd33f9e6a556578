"""Reloading the next hop: SIGHUP reroutes, the same config keeps the channel, and a middle hop
rerouted 20 times under continuous load loses and fails nothing.
"""

from __future__ import annotations

import os
import signal
import threading

import grpc
from kasugai_functions.calc import operator_pb2, operator_pb2_grpc
from kasugai_functions.calc.arithmetic import Operator
from kasugai_functions.calc.testing import CalcProcess, LocalCalc, iter_results, run_client

REROUTES = 20
SENDERS = 4


def send_ok(first: CalcProcess, *values: str) -> None:
    client = run_client("-host", first.host, "-port", str(first.port), *values)
    assert (client.returncode, client.stdout.strip()) == (0, "OK"), client.stderr


def received_inputs(receiver: CalcProcess) -> list[list[float]]:
    return [inputs for inputs, _ in iter_results(receiver.events())]


def test_sighup_with_a_new_config_reroutes(calc: LocalCalc) -> None:
    old = calc.start("receiver-old", Operator.RECEIVER)
    new = calc.start("receiver-new", Operator.RECEIVER)
    plus = calc.start("plus", Operator.PLUS, next_host=old.host)
    send_ok(plus, "1", "2")
    old.wait_for_event("result")

    plus.point_to(new.host)
    plus.wait_for_event("load config", where=lambda e: e["next"]["host"] == new.host)
    send_ok(plus, "3", "4")

    new.wait_for_event("result")
    assert received_inputs(new) == [[3.0, 4.0]]
    assert received_inputs(old) == [[1.0, 2.0]]
    plus.wait_for_event("closed old channel", where=lambda e: e["address"] == old.address)


def test_a_reload_with_the_same_destination_keeps_the_channel(calc: LocalCalc) -> None:
    receiver = calc.start("receiver", Operator.RECEIVER)
    plus = calc.start("plus", Operator.PLUS, next_host=receiver.host)
    for reload in range(3):  # one at a time: SIGHUPs that arrive together coalesce into one load
        plus.point_to(receiver.host)
        plus.wait_for_event("load config", count=reload + 2)
    send_ok(plus, "1", "2")
    assert len(plus.events("connecting")) == 1
    assert plus.events("closed old channel") == []


def test_a_storm_of_sighups_neither_kills_nor_blocks_the_server(calc: LocalCalc) -> None:
    """The original could deadlock when a reload met a request; here reloads never block one."""
    receiver = calc.start("receiver", Operator.RECEIVER)
    plus = calc.start("plus", Operator.PLUS, next_host=receiver.host)
    storm_over = threading.Event()

    def storm() -> None:
        for _ in range(300):
            os.kill(plus.process.pid, signal.SIGHUP)
        storm_over.set()

    thread = threading.Thread(target=storm)
    thread.start()
    for value in range(5):
        send_ok(plus, str(value), "1")
    thread.join()
    assert storm_over.is_set()
    send_ok(plus, "9", "9")
    assert plus.process.poll() is None
    receiver.wait_for_event("result", count=6)


class Load:
    """Senders calling the first function in a loop; they record every reply that is not OK."""

    def __init__(self, first: CalcProcess) -> None:
        self._channel = grpc.insecure_channel(first.address)
        self._stub = operator_pb2_grpc.OperatorServiceStub(self._channel)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.ok = 0
        self.failures: list[str] = []
        self._threads = [threading.Thread(target=self._send, args=(n,)) for n in range(SENDERS)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._channel.close()

    def _send(self, sender: int) -> None:
        count = 0
        while not self._stop.is_set():
            count += 1
            request = operator_pb2.OperateRequest(inputs=[sender, count])
            try:
                response, call = self._stub.Operate.with_call(request, timeout=60)
                failure = (
                    None if response.status == operator_pb2.OK else str(call.trailing_metadata())
                )
            except grpc.RpcError as error:
                failure = f"{error.code()}: {error.details()}"  # type: ignore[attr-defined]
            with self._lock:
                if failure is None:
                    self.ok += 1
                else:
                    self.failures.append(failure)


def test_rerouting_a_middle_hop_under_load_fails_no_request(calc: LocalCalc) -> None:
    receiver = calc.start("receiver", Operator.RECEIVER)
    multiply_a = calc.start("multiply-a", Operator.MULTIPLY, next_host=receiver.host)
    multiply_b = calc.start("multiply-b", Operator.MULTIPLY, next_host=receiver.host)
    minus = calc.start("minus", Operator.MINUS, next_host=multiply_a.host)
    plus = calc.start("plus", Operator.PLUS, next_host=minus.host)

    with Load(plus) as load:
        for reroute in range(REROUTES):
            target = (multiply_b, multiply_a)[reroute % 2]
            served_before = len(target.events("start call Do"))
            minus.point_to(target.host)
            minus.wait_for_event("load config", count=reroute + 2)
            # Traffic reaches the new destination before the next swap.
            target.wait_for_event("start call Do", count=served_before + 1)

    assert load.failures == []
    assert load.ok > REROUTES
    # Every OK reply stands for exactly one request that reached the end of the chain.
    receiver.wait_for_event("result", count=load.ok)
    assert len(receiver.events("result")) == load.ok
    assert len(minus.events("connecting")) == REROUTES + 1
    minus.wait_for_event("closed old channel", count=REROUTES)
