"""What ``kasugai demo`` knows about the arithmetic sample: names, edits, expected results.

``ChainProbe`` answers the demo's questions from what the local runtime leaves on disk (the
``state.json`` snapshot and the functions' JSON logs), as a user would with ``kasugai status``
and ``kasugai logs``: is the DataFlow Deployed, has every function loaded its next hop, what did
the receiver log, when did ``minus`` reload after the chain edit.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from kasugai.adapters.local.layout import StateDir
from kasugai.adapters.local.snapshot import read_snapshot
from kasugai.json_logs import read_json_log

CHAIN_FILE = "functionchain.yaml"
NAMESPACE, NAME = "cpufunc-calcapp", "df-calcapp"
DATAFLOW = f"{NAMESPACE}/{NAME}"
INPUTS = ("1", "2", "3", "4", "5")
REWIRED_KEYS = ("send", "plus", "minus", "rcv")
START, END = "wb-start-of-chain", "wb-end-of-chain"


Results = tuple[tuple[str, float], ...]
# The contract's results for inputs 1 2 3 4 5 (docs/compatibility.md section 10), before and
# after the edit.
EXPECTED_FIRST: Results = (
    ("plus", 15.0),
    ("minus", -13.0),
    ("multiply", 120.0),
    ("divide", 0.008333333333333333),
    ("average", 30.502083333333335),
)
EXPECTED_SECOND: Results = EXPECTED_FIRST[:2]


def rewired_chain(text: str) -> str:
    """The FunctionChain with only send, plus, minus and rcv, connected in that order."""
    chain = yaml.safe_load(text)
    spec = chain["spec"]
    spec["functions"] = {k: v for k, v in spec["functions"].items() if k in REWIRED_KEYS}
    spec["connections"] = connected_in_order(REWIRED_KEYS)
    return yaml.safe_dump(chain, sort_keys=False)


def connected_in_order(keys: Sequence[str]) -> list[dict[str, Any]]:
    """FunctionChain ``spec.connections`` from the chain's start through ``keys`` to its end."""
    hops = [START, *keys, END]
    return [
        {
            "from": {"functionKey": source, "port": 0},
            "to": {"functionKey": target, "port": 0},
            "connectionTypeName": "auto",
        }
        for source, target in itertools.pairwise(hops)
    ]


def event_time(event: dict[str, Any]) -> float:
    """When a JSON log event was written (its ISO ``timestamp``), in seconds since the epoch."""
    return datetime.fromisoformat(str(event["timestamp"])).timestamp()


def _host(destination: str) -> str:
    """``127.0.4.132:8080/TCP`` -> ``127.0.4.132``."""
    return destination.split(":", 1)[0]


class ChainProbe:
    def __init__(self, state: StateDir) -> None:
        self.state = state

    @staticmethod
    def pod_name(function: str) -> str:
        return f"{NAME}-wbfunction-{function}-cpu-pod"

    @staticmethod
    def now() -> float:
        return time.time()

    def _snapshot(self) -> dict[str, Any]:
        return read_snapshot(self.state) or {}

    def _dataflow(self) -> dict[str, Any]:
        for dataflow in self._snapshot().get("dataflows", []):
            if (dataflow["namespace"], dataflow["name"]) == (NAMESPACE, NAME):
                return dict(dataflow["status"])
        return {}

    def _pods(self) -> dict[str, dict[str, Any]]:
        return {p["function"]: p for p in self._snapshot().get("pods", [])}

    def _log(self, function: str) -> list[dict[str, Any]]:
        pod = self._pods().get(function)
        if not pod or not pod["containers"]:
            return []
        return read_json_log(Path(pod["containers"][0]["log"]))

    def deployed(self) -> bool:
        pods = self._pods().values()
        running = all(
            c.get("state") == "Running" for pod in pods for c in pod.get("containers", [])
        )
        return self._dataflow().get("status") == "Deployed" and bool(pods) and running

    def _loaded(self, function: str, host: str) -> bool:
        if function == "send":  # the client reads config.yaml on each run
            pod = self._pods()[function]
            config = Path(pod["configDir"]) / "config.yaml"
            return config.exists() and f'host: "{host}"' in config.read_text()
        events = self._log(function)
        serving = any(e.get("event") == "start gRPC server" for e in events)
        return serving and any(
            e.get("event") == "load config" and (e.get("next") or {}).get("host") == host
            for e in events
        )

    def wired(self) -> bool:
        connections = self._dataflow().get("connections", [])
        receiver = self._log("rcv")
        return (
            bool(connections)
            and all(c["published"] for c in connections)
            and all(self._loaded(c["from"], _host(c["destination"])) for c in connections)
            and any(e.get("event") == "start gRPC server" for e in receiver)
        )

    def _results(self) -> list[dict[str, Any]]:
        return [e for e in self._log("rcv") if e.get("event") == "result"]

    def results_count(self) -> int:
        return len(self._results())

    def result_after(self, count: int) -> list[tuple[str, float]] | None:
        """The newest result once more than ``count`` were logged, as (operator, value) pairs."""
        results = self._results()
        if len(results) <= count:
            return None
        return [(r["operator"], float(r["value"])) for r in results[-1]["results"]]

    def rewired_since(self, started: float) -> float | None:
        """When ``minus`` loaded the receiver's address after ``started`` (None: not yet)."""
        receiver = self._pods().get("rcv")
        if receiver is None:
            return None
        for event in self._log("minus"):
            if event.get("event") != "load config":
                continue
            if (event.get("next") or {}).get("host") != receiver["address"]:
                continue
            at = event_time(event)
            if at >= started:
                return at
        return None
