"""All three network modes run the chain; the addresses come from the facts each mode reports."""

from __future__ import annotations

from pathlib import Path

import pytest
from local_calc import FIRST, send, wait_wired
from local_samples import StartRun, copy_calc


@pytest.mark.parametrize("mode", ["clusterip", "loadbalancer", "sriov"])
def test_every_network_mode_runs_the_chain(tmp_path: Path, start_run: StartRun, mode: str) -> None:
    run = start_run(copy_calc(tmp_path / "sample", network=mode))
    wait_wired(run)
    assert send(run, "1", "2", "3", "4", "5") == FIRST

    snapshot = run.snapshot()
    addresses = {p["function"]: p["address"] for p in snapshot["pods"]}
    services = {s["name"]: s for s in snapshot["services"]}
    connections = snapshot["dataflows"][0]["status"]["connections"]
    for connection in connections:  # each function sends to its successor's own address
        assert connection["destination"] == f"{addresses[connection['to']]}:8080/TCP"
    if mode == "sriov":
        assert services == {}
    else:
        entry = services["df-calcapp-wbfunction-send-service"]
        assert entry["type"] == "LoadBalancer"  # the first function is the entry point
        others = {s["type"] for name, s in services.items() if "-send-" not in name}
        assert others == {"LoadBalancer" if mode == "loadbalancer" else "ClusterIP"}
