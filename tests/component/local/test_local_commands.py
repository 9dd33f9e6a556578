"""The user's commands around a running chain: up -d, status, logs, exec, down."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from local_calc import FIRST, SEND_POD, send, wait_wired
from local_samples import StartRun, edit_entries

from kasugai.adapters.local.processes import LeftOver, group_alive, process_gone
from kasugai.adapters.local.testing import KASUGAI, LocalRun, read_events, wait_until

RCV_POD = "df-calcapp-wbfunction-rcv-cpu-pod"


def test_detached_up_then_status_logs_exec_and_down(calc_sample: Path, tmp_path: Path) -> None:
    run = LocalRun(calc_sample, tmp_path / "state", tmp_path / "unused.log")
    try:
        up = run.kasugai("up", str(calc_sample), "--detach")
        assert up.returncode == 0, up.stderr
        assert "supervisor running in the background" in up.stdout
        wait_wired(run)
        supervisor = run.snapshot()["supervisor"]["pid"]
        assert send(run, "1", "2", "3", "4", "5") == FIRST

        status = run.kasugai("status")
        assert status.returncode == 0
        for pod in run.snapshot()["pods"]:
            assert pod["name"] in status.stdout and pod["address"] in status.stdout
        assert "Deployed" in status.stdout and "Published" in status.stdout

        logs = run.kasugai("logs", RCV_POD)
        assert logs.returncode == 0
        assert 'Defaulted container "cpu-container0" out of: cpu-container0, cpu-container1' in (
            logs.stderr
        )
        assert '"event": "result"' in logs.stdout
        sidecar = run.kasugai("logs", RCV_POD, "-c", "cpu-container1")
        assert "kasugai-calc" in sidecar.stdout or "rendered" in sidecar.stdout

        exited = run.exec(SEND_POD, "sh", "-c", "exit 3")
        assert exited.returncode == 3
        env = run.exec(SEND_POD, "printenv", "KASUGAI_POD_IP", "K8S_POD_NAME", "K8S_POD_NAMESPACE")
        address = run.pod("send")["address"]
        assert env.stdout.split() == [address, SEND_POD, "cpufunc-calcapp"]
        missing = run.exec(SEND_POD, "no-such-program")
        assert missing.returncode == 127 and "no-such-program" in missing.stderr

        pids = [c["pid"] for p in run.snapshot()["pods"] for c in p["containers"]]
        down = run.kasugai("down")
        assert down.returncode == 0, down.stderr
        assert "no process left" in down.stdout
        assert not any(group_alive(pid) for pid in pids)
        assert process_gone(supervisor)
        stopped = run.kasugai("status")
        assert stopped.returncode == 1
        assert "no supervisor running" in stopped.stdout and "Stopped" in stopped.stdout
        # Nothing runs any more: no "Deploying", no connection shown as published.
        assert "Deploying" not in stopped.stdout and "Published" not in stopped.stdout
    finally:
        run.kasugai("down")
    assert run.leftovers() == []


def test_logs_follow_prints_new_output(calc_sample: Path, start_run: StartRun) -> None:
    run = start_run(calc_sample)
    wait_wired(run)
    follower = subprocess.Popen(
        [*KASUGAI, "logs", RCV_POD, "-f", "--state-dir", str(run.state.root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        send(run, "7", "8")
        assert follower.stdout is not None
        wait_until(lambda: '"inputs": [7.0, 8.0]' in follower.stdout.readline(), "the new line")
    finally:
        os.killpg(follower.pid, signal.SIGINT)
        follower.communicate(timeout=30)


def _escaping(sample: Path) -> Path:
    """The sample, with a send container that forks a process into a session of its own."""

    def escape(name: str, entry: dict[str, Any]) -> None:
        if name.endswith("-send"):
            command = ["sh", "-c", "setsid sleep 600 & exec kasugai-calc -idle"]
            entry["template"]["spec"]["containers"][0]["command"] = command

    edit_entries(sample, escape)
    return sample


def _escaped(run: LocalRun) -> LeftOver:
    def found() -> list[LeftOver]:
        return [p for p in run.leftovers() if p.command == "sleep 600"]

    return wait_until(found, "the escaped process")[0]


def test_a_supervisor_killed_by_sigkill_takes_its_children_and_down_reports_the_rest(
    calc_sample: Path, tmp_path: Path
) -> None:
    """The kernel kills the supervisor's direct children (PDEATHSIG), not a process that left
    its session: ``kasugai down`` finds it by the run's marker, reports it by PID, kills it."""
    run = LocalRun(_escaping(calc_sample), tmp_path / "state", tmp_path / "up.log").start()
    try:
        assert run.process is not None
        escaped = _escaped(run)
        containers = [c["pid"] for p in run.snapshot()["pods"] for c in p["containers"]]

        os.kill(run.process.pid, signal.SIGKILL)
        run.process.wait()
        wait_until(lambda: not any(group_alive(pid) for pid in containers), "PDEATHSIG")
        assert not process_gone(escaped.pid)

        down = run.kasugai("down")
        assert down.returncode == 1
        assert f"left behind and killed: pid {escaped.pid}: sleep 600" in down.stderr
        wait_until(lambda: process_gone(escaped.pid), "the escaped process to die")
    finally:
        run.close()


def test_a_graceful_stop_also_stops_processes_that_left_their_group(
    calc_sample: Path, tmp_path: Path
) -> None:
    run = LocalRun(_escaping(calc_sample), tmp_path / "state", tmp_path / "up.log").start()
    try:
        escaped = _escaped(run)
        down = run.kasugai("down")
        assert down.returncode == 0, down.stderr
        assert process_gone(escaped.pid)
        killed = [e for e in read_events(run.output) if e.get("pid") == escaped.pid]
        assert killed and killed[0]["event"] == "killing a process that outlived its Pod"
    finally:
        run.close()


def test_a_foreground_up_stops_everything_on_sigterm(calc_sample: Path, tmp_path: Path) -> None:
    run = LocalRun(calc_sample, tmp_path / "state", tmp_path / "up.log").start()
    try:
        assert run.process is not None
        pids = [c["pid"] for p in run.snapshot()["pods"] for c in p["containers"]]
        os.kill(run.process.pid, signal.SIGTERM)
        assert run.process.wait(timeout=120) == 0
        assert not any(group_alive(pid) for pid in pids)
        assert run.leftovers() == []
        stopped = [e for e in read_events(run.output) if e.get("event") == "pod stopped"]
        assert len(stopped) == 7
    finally:
        run.close()


def test_up_of_a_missing_directory_touches_nothing(tmp_path: Path) -> None:
    run = LocalRun(tmp_path / "missing", tmp_path / "state", tmp_path / "unused.log")
    up = run.kasugai("up", str(tmp_path / "missing"))
    assert up.returncode == 2
    assert up.stderr == f"kasugai up: error: {tmp_path / 'missing'}: not a directory of resources\n"
    assert not (tmp_path / "state").exists()
