"""Continuous load on the calc chain run by ``kasugai up`` while its topology is edited.

``Load`` runs ``clients`` threads, each with one persistent gRPC channel into ``plus``, sending
request after request with inputs that name the client and the request, and records when each
was sent and answered and how. ``edit_chain`` replaces the FunctionChain with ``send``, the given
functions and ``rcv`` and waits until the edit is complete: the DataFlow Deployed and Rewired,
no Pod left running but the chain's, and every function running the type version asked for.
A key written ``multiply@2.0.0`` asks for version 2.0.0 of multiply's type: a second
FunctionType (``add_second_type_version``) whose config differs only in one env var, so the Pod
is replaced while what it computes stays checkable. ``check`` holds the receiver's results
against the chains in force: a request sent while a chain was stable went through exactly
that chain; one sent during an edit went along connections of the chain before or after it;
every value is what those functions compute. Used by tests/component/local and
benchmarks/rewire_under_load.py.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import grpc
import yaml
from kasugai_functions.calc import operator_pb2, operator_pb2_grpc
from kasugai_functions.calc.arithmetic import Operator, compute
from kasugai_functions.calc.wire import reason_from

from kasugai.adapters.local.testing import LocalRun, wait_until
from kasugai.atomic_files import write_atomically
from kasugai.commands.demo_chain import CHAIN_FILE, NAME, connected_in_order

__all__ = [
    "BASE",
    "Edit",
    "Load",
    "add_second_type_version",
    "chain_text",
    "check",
    "edit_chain",
    "function_key",
    "rounds_of_edits",
    "type_version",
]

BASE = ("plus", "minus", "multiply", "divide", "average")
# Remove divide, insert it again, swap minus and multiply, swap them back.
_EDITS = (
    ("plus", "minus", "multiply", "average"),
    BASE,
    ("plus", "multiply", "minus", "divide", "average"),
    BASE,
)
SECOND_VERSION = "2.0.0"
TYPE_VERSION_ENV = "CALC_TYPE_VERSION"
_REPLACED = "multiply"
_FUNCTION_OPERATOR = {"average": Operator.AVERAGE_RESULTS}


def rounds_of_edits(rounds: int) -> list[tuple[str, ...]]:
    """``rounds`` times: the four edits above, then multiply's type replaced (by 2.0.0, then
    back by 1.0.0)."""
    edits: list[tuple[str, ...]] = []
    for number in range(rounds):
        replaced = f"{_REPLACED}@{SECOND_VERSION}" if number % 2 == 0 else _REPLACED
        edits.extend(_EDITS)
        edits.append(tuple(replaced if k == _REPLACED else k for k in BASE))
    return edits


def function_key(function: str) -> str:
    """``multiply`` of ``multiply@2.0.0``."""
    return function.partition("@")[0]


def type_version(function: str) -> str:
    """``2.0.0`` of ``multiply@2.0.0``; 1.0.0, the samples' version, when none is written."""
    return function.partition("@")[2] or "1.0.0"


def add_second_type_version(sample: Path) -> None:
    """Write a second version of multiply's FunctionType, with its own function info and config
    (the same Pod but for one env var), next to the sample's files."""
    documents = [
        d
        for path in sorted(sample.glob("*.yaml"))
        for d in yaml.safe_load_all(path.read_text())
        if isinstance(d, dict)
    ]

    def named(kind: str, name: str) -> dict[str, Any]:
        return next(d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name)

    function_name = f"calcapp-{_REPLACED}"
    kind_type = next(
        d
        for d in documents
        if d["kind"] == "FunctionType" and d["spec"]["functionName"] == function_name
    )
    info_ref = kind_type["spec"]["functionInfoCMRef"]
    info = named("ConfigMap", info_ref["name"])
    items = json.loads(info["data"]["deployableItems"])
    config_name = items[0]["configName"]
    config = named("ConfigMap", config_name)
    (entries_text,) = config["data"].values()
    entries = json.loads(entries_text)
    for entry in entries:
        entry["envs"] = {**entry.get("envs", {}), TYPE_VERSION_ENV: SECOND_VERSION}
    suffix = "-v2"
    new_type = {
        **kind_type,
        "metadata": {**kind_type["metadata"], "name": kind_type["metadata"]["name"] + suffix},
        "spec": {
            **kind_type["spec"],
            "version": SECOND_VERSION,
            "functionInfoCMRef": {**info_ref, "name": info_ref["name"] + suffix},
        },
    }
    new_info = {
        **info,
        "metadata": {**info["metadata"], "name": info_ref["name"] + suffix},
        "data": {
            **info["data"],
            "deployableItems": json.dumps(
                [{**i, "configName": config_name + suffix} for i in items]
            ),
        },
    }
    # In the DataFlow's namespace: reading one in ``default`` would need a grant there.
    new_config = {
        **config,
        "metadata": {
            **config["metadata"],
            "name": config_name + suffix,
            "namespace": kind_type["metadata"]["namespace"],
        },
        "data": {f"{config_name}{suffix}.json": json.dumps(entries)},
    }
    text = yaml.safe_dump_all([new_type, new_info, new_config], sort_keys=False)
    write_atomically(sample / f"functiontype-{_REPLACED}{suffix}.yaml", text)


@attrs.frozen
class Edit:
    chain: tuple[str, ...]
    started: float
    completed: float

    @property
    def seconds(self) -> float:
        return self.completed - self.started


@attrs.define
class Sent:
    client: int
    number: int
    sent: float
    answered: float = 0.0
    status: str = ""
    reason: str = ""


class Load:
    """``clients`` threads sending to ``target`` until ``stop``."""

    def __init__(self, target: str, clients: int, timeout: float = 30.0) -> None:
        self._target = target
        self._clients = clients
        self._timeout = timeout
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.sent: list[Sent] = []
        self._lock = threading.Lock()

    def start(self) -> Load:
        for client in range(self._clients):
            thread = threading.Thread(target=self._run, args=(client,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _run(self, client: int) -> None:
        with grpc.insecure_channel(self._target) as channel:
            stub = operator_pb2_grpc.OperatorServiceStub(channel)
            for number in itertools.count():
                if self._stop.is_set():
                    return
                record = Sent(client, number, time.time())
                request = operator_pb2.OperateRequest(inputs=[client + 2.0, number + 1.0, 3.0])
                try:
                    reply, call = stub.Operate.with_call(request, timeout=self._timeout)
                    record.status = operator_pb2.OperateResponseStatus.Name(reply.status)
                    record.reason = reason_from(call.trailing_metadata() or ())
                except grpc.RpcError as error:
                    record.status, record.reason = "ERROR", f"{error.code().name}"
                record.answered = time.time()
                with self._lock:
                    self.sent.append(record)


def chain_text(text: str, keys: Sequence[str]) -> str:
    chain = yaml.safe_load(text)
    spec = chain["spec"]
    functions = {**spec["functions"]}
    spec["functions"] = {
        function_key(k): {**functions[function_key(k)], "version": type_version(k)}
        for k in ("send", *keys, "rcv")
    }
    spec["connections"] = connected_in_order(("send", *map(function_key, keys), "rcv"))
    return yaml.safe_dump(chain, sort_keys=False)


def _runs_version(pod: dict[str, Any], version: str) -> bool:
    """Whether the function's process (its first container) runs type ``version``."""
    pid = (pod.get("containers") or [{}])[0].get("pid")
    if not pid:
        return False
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:  # the process is being replaced
        return False
    found = f"{TYPE_VERSION_ENV}={SECOND_VERSION}".encode() in environ
    return found == (version == SECOND_VERSION)


def complete(run: LocalRun, keys: Sequence[str]) -> bool:
    """The DataFlow runs exactly ``send``, ``keys``, ``rcv``, every hop on its next hop."""
    status = run.dataflow_status(NAME)
    rewired = any(
        c["type"] == "Rewired" and c["status"] == "True" for c in status.get("conditions", [])
    )
    hops = [(c["from"], c["to"]) for c in status.get("connections", [])]
    chain = ("send", *map(function_key, keys), "rcv")
    pods = run.pods()
    return (
        status.get("status") == "Deployed"
        and rewired
        and hops == list(itertools.pairwise(chain))
        and set(pods) == set(chain)
        and all(_runs_version(pods[function_key(k)], type_version(k)) for k in keys)
    )


def edit_chain(run: LocalRun, sample: Path, full: str, keys: Sequence[str]) -> Edit:
    """Replace the chain with ``send``, ``keys``, ``rcv``; wait until that edit is complete."""
    started = time.time()
    write_atomically(sample / CHAIN_FILE, chain_text(full, keys))
    wait_until(lambda: complete(run, keys), f"the chain {' -> '.join(keys)} to be complete")
    return Edit(tuple(keys), started, time.time())


def _expected(path: Sequence[str], inputs: Sequence[float]) -> list[tuple[str, float]]:
    values: list[tuple[str, float]] = []
    for function in path:
        operator = _FUNCTION_OPERATOR.get(function) or Operator(function)
        value = compute(operator, inputs, [v for _, v in values])
        values.append((operator.result_name, value))
    return values


def check(
    sent: Sequence[Sent],
    results: Sequence[dict[str, Any]],
    first: Sequence[str],
    edits: Sequence[Edit],
) -> list[str]:
    """Every problem found: NG or errors, lost results, answers not of a chain in force."""
    problems = [
        f"client {s.client} #{s.number}: {s.status} {s.reason}" for s in sent if s.status != "OK"
    ]
    received: dict[tuple[float, ...], list[tuple[str, float]]] = {}
    for result in results:
        ops = [(str(r["operator"]), float(r["value"])) for r in result["results"]]
        received[tuple(float(x) for x in result["inputs"])] = ops
    for request in sent:
        if request.status != "OK":
            continue
        inputs = (request.client + 2.0, request.number + 1.0, 3.0)
        got = received.get(inputs)
        if got is None:
            problems.append(f"client {request.client} #{request.number}: answered OK, not received")
            continue
        functions = [op for op, _ in got]  # result names are function keys here
        allowed = _allowed(request, first, edits)
        if tuple(functions) not in allowed["exact"] and not _along(functions, allowed["edges"]):
            problems.append(f"client {request.client} #{request.number}: went {functions}")
            continue
        if got != _expected(functions, inputs):
            problems.append(
                f"client {request.client} #{request.number}: {got} is not computed right"
            )
    return problems


def _allowed(request: Sent, first: Sequence[str], edits: Sequence[Edit]) -> dict[str, Any]:
    """The chains a request may have gone through: the one in force from its sending to its
    answer; across an edit, any path along connections of the chains before and after it."""
    chains = [tuple(map(function_key, first))]
    for edit in edits:
        if edit.started > request.answered:
            break
        if edit.started <= request.answered and request.sent <= edit.completed:
            chains.append(tuple(map(function_key, edit.chain)))  # the edit was under way meanwhile
        elif edit.completed < request.sent:
            chains = [tuple(map(function_key, edit.chain))]
    if len(chains) == 1:
        return {"exact": {chains[0]}, "edges": set()}
    edges = {pair for chain in chains for pair in itertools.pairwise(("send", *chain, "rcv"))}
    return {"exact": set(chains), "edges": edges}


def _along(functions: Sequence[str], edges: set[tuple[str, str]]) -> bool:
    hops = itertools.pairwise(["send", *functions, "rcv"])
    return bool(edges) and all(pair in edges or pair[0] == "send" for pair in hops)
