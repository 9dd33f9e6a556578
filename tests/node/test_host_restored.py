"""The node tier puts the host back: after it stops, and after a run that was killed, at the next
start. Each test starts its own tier (one at a time: the tier holds a machine-wide lock)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from node_workloads import NodeInputs, run_a_pod_behind_a_service, start_node

from kasugai.testing.node import HostSnapshot
from kasugai.testing.node.host import RECORD

# What a running tier changes, by kind, as a snapshot's differences name them; each must show
# while it runs, or the comparison afterwards would prove nothing.
KINDS_CHANGED_WHILE_RUNNING = ("sysctl", "iptables", "mount", "cgroup", "interface", "process")


def kinds(differences: list[str]) -> set[str]:
    return {line.split()[0] for line in differences}


def test_the_host_is_as_before_after_the_tier_stops(
    node_inputs: NodeInputs, tmp_path: Path
) -> None:
    before = HostSnapshot.read(tmp_path)
    node = start_node(node_inputs, tmp_path / "node")
    try:
        run_a_pod_behind_a_service(node)
        during = HostSnapshot.read(tmp_path)
    finally:
        node.stop()
    after = HostSnapshot.read(tmp_path)

    changed = before.differences(during)
    assert kinds(changed) >= set(KINDS_CHANGED_WHILE_RUNNING), "\n".join(changed)
    assert before.differences(after) == []


CHILD = """
import json, sys, time
from pathlib import Path
from node_workloads import NodeInputs, run_a_pod_behind_a_service, start_node
from tests.node.test_host_restored import run_a_pod_behind_a_service
args = json.loads(sys.argv[1])
node = start_node(NodeInputs(*map(Path, args["inputs"])), Path(args["workdir"]))
run_a_pod_behind_a_service(node)
print("running", flush=True)
time.sleep(3600)
"""


def test_a_killed_runs_leftovers_are_cleaned_up_by_the_next_start(
    node_inputs: NodeInputs, tmp_path: Path
) -> None:
    before = HostSnapshot.read(tmp_path)
    inputs = [
        str(node_inputs.bin_dir),
        str(node_inputs.pause_archive),
        str(node_inputs.busybox_archive),
    ]
    arguments = json.dumps({"inputs": inputs, "workdir": str(tmp_path / "killed")})
    log_path = tmp_path / "killed-run.log"
    with (
        log_path.open("w") as log,
        subprocess.Popen(
            [sys.executable, "-c", CHILD, arguments],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)},
        ) as child,
    ):
        try:
            assert child.stdout is not None
            assert child.stdout.readline() == "running\n", log_path.read_text()
        finally:
            child.send_signal(signal.SIGKILL)  # no teardown runs: the tier's daemons live on
    left = kinds(before.differences(HostSnapshot.read(tmp_path)))
    assert left >= set(KINDS_CHANGED_WHILE_RUNNING)
    assert RECORD.is_file()

    node = start_node(node_inputs, tmp_path / "next")
    try:
        # The start has killed what the killed run left running.
        killed = f"{tmp_path / 'killed'}/"
        assert not [c for c in HostSnapshot.read(tmp_path).processes.values() if killed in c]
    finally:
        node.stop()
    assert before.differences(HostSnapshot.read(tmp_path)) == []
