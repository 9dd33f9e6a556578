"""Pod life cycles under ``kasugai up``: a DataFlow removed and restored, a crash-looping
container, an interrupted demo."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from local_calc import FIRST, send, wait_wired
from local_samples import StartRun, edit_entries, shorten_chain

from kasugai.adapters.local.processes import group_alive, process_gone
from kasugai.adapters.local.testing import KASUGAI, LocalRun, read_events, wait_until
from kasugai.commands.demo_chain import ChainProbe

DATAFLOW_FILE = "df-cpufunc.yaml"


def test_removing_the_dataflow_stops_its_pods_and_restoring_it_starts_them(
    calc_sample: Path, start_run: StartRun, tmp_path: Path
) -> None:
    run = start_run(calc_sample)
    wait_wired(run)
    pids = [c["pid"] for p in run.snapshot()["pods"] for c in p["containers"]]
    configmaps = run.state.configmaps

    shutil.move(calc_sample / DATAFLOW_FILE, tmp_path / DATAFLOW_FILE)
    wait_until(lambda: run.snapshot()["pods"] == [], "the Pods to be deleted")
    wait_until(lambda: not any(group_alive(pid) for pid in pids), "their processes to stop")
    assert run.snapshot()["dataflows"] == []
    assert list(configmaps.rglob("*.json")) == []

    shutil.move(tmp_path / DATAFLOW_FILE, calc_sample / DATAFLOW_FILE)
    wait_until(lambda: len(run.snapshot()["pods"]) == 7, "the Pods to be created again")
    wait_wired(run)
    assert send(run, "1", "2", "3", "4", "5") == FIRST


def test_a_crash_looping_container_is_restarted_with_growing_delays(
    calc_sample: Path, start_run: StartRun
) -> None:
    def crash(name: str, entry: dict[str, Any]) -> None:
        if name.endswith("-send"):
            entry["template"]["spec"]["containers"][0]["command"] = ["sh", "-c", "exit 3"]

    edit_entries(calc_sample, crash)
    run = start_run(calc_sample)

    def looping() -> dict[str, Any] | None:
        container = run.pod("send")["containers"][0]
        return container if container["restartCount"] >= 3 else None

    container = wait_until(looping, "three restarts")
    assert container["lastExitCode"] == 3
    delays = [
        e["restart_in"]
        for e in read_events(run.output)
        if e.get("event") == "container exited; restarting"
        and e.get("container") == container["name"]
    ]
    assert delays[:3] == [0.5, 1.0, 2.0]

    def shown_waiting() -> bool:
        rows = run.kasugai("status").stdout.splitlines()
        return any(
            r.startswith("df-calcapp-wbfunction-send-") and "CrashLoopBackOff" in r for r in rows
        )

    wait_until(shown_waiting, "kasugai status to show the send Pod in CrashLoopBackOff")
    assert run.pod("plus")["containers"][0]["restartCount"] == 0


def test_an_interrupted_demo_stops_everything() -> None:
    demo = subprocess.Popen(
        [*KASUGAI, "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert demo.stdout is not None
    seen = []
    for line in demo.stdout:
        seen.append(line)
        if "is Deployed" in line:
            demo.send_signal(signal.SIGINT)
            break
    rest, _ = demo.communicate(timeout=300)
    output = "".join(seen) + rest
    assert demo.returncode == 130, output
    assert "Stopped; no process left" in output
    state = re.search(r"state in (\S+)\)", output)
    assert state is not None, output
    assert _processes_configured_under(state.group(1)) == []
    assert not Path(state.group(1)).exists()  # the temporary directory is gone too


def _processes_configured_under(directory: str) -> list[int]:
    """Live processes whose KASUGAI_CONFIG_DIR lies in ``directory`` (a Pod of that run)."""
    marker = f"KASUGAI_CONFIG_DIR={directory}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if marker in environ and not process_gone(int(entry.name)):
            found.append(int(entry.name))
    return found


def test_a_local_run_can_be_replayed_from_its_journal(calc_sample: Path, tmp_path: Path) -> None:
    """Every decision the core took while running (start, a chain edit, stop) is reproduced by
    ``kasugai replay`` from the journal alone."""
    journal = tmp_path / "journal.jsonl"
    run = LocalRun(calc_sample, tmp_path / "state", tmp_path / "up.log")
    try:
        up = run.kasugai("up", str(calc_sample), "--detach", "--journal", str(journal))
        assert up.returncode == 0, up.stderr
        wait_wired(run)
        started = ChainProbe.now()
        shorten_chain(calc_sample)
        wait_until(lambda: ChainProbe(run.state).rewired_since(started), "the rewiring")
        assert run.kasugai("down").returncode == 0
    finally:
        run.kasugai("down")
    replay = subprocess.run([*KASUGAI, "replay", str(journal)], capture_output=True, text=True)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "every decision reproduced" in replay.stderr
    assert "= Connection cpufunc-calcapp/df-calcapp minus:0->rcv:0: " in replay.stdout
