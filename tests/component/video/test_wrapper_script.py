"""The image's /wrapper script, run outside the image: the original Pod specs' program name."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

from kasugai_functions.video.testing import read_events, wait_until

REPO = Path(__file__).parents[3]
SCRIPT = REPO / "functions" / "video" / "wrapper"
HUP_BIT = 1 << (signal.SIGHUP - 1)


def ignored_signals(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(
        next(line for line in status.splitlines() if line.startswith("SigIgn:")).split()[1], 16
    )


def test_wrapper_script_runs_as_slash_wrapper_and_shrugs_off_early_sighup(tmp_path: Path) -> None:
    config_dir, log_path = tmp_path / "config", tmp_path / "log.jsonl"
    # Outside the image: the real interpreter (a venv's python would not find its venv when
    # started as /wrapper), with the venv's packages and this checkout on PYTHONPATH.
    paths = [sysconfig.get_paths()["purelib"], REPO, REPO / "functions", REPO / "sidecar"]
    env = {
        **os.environ,
        "WRAPPER_PYTHON": os.path.realpath(sys.executable),
        "PYTHONPATH": os.pathsep.join(map(str, paths)),
        "KASUGAI_CONFIG_DIR": str(config_dir),
        "KASUGAI_LOG_FORMAT": "json",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [SCRIPT, "--install-template", "relay"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # Once bash has run `trap '' HUP`, a reload request can come at any time.
        wait_until(lambda: ignored_signals(process.pid) & HUP_BIT, "the launcher's trap")
        process.send_signal(signal.SIGHUP)
        wait_until(
            lambda: any(e["event"] == "waiting for config" for e in read_events(log_path)),
            "the wrapper to start",
        )
        argv0 = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")[0]
        assert argv0 == b"/wrapper"
        (config_dir / "config.yaml").write_text(json.dumps({"command": ["sleep", "60"]}))
        process.send_signal(signal.SIGHUP)
        wait_until(
            lambda: [e for e in read_events(log_path) if e["event"] == "pipeline started"],
            "the pipeline to start",
        )
        (started,) = [e for e in read_events(log_path) if e["event"] == "pipeline started"]
        # The wrapper ignored SIGHUP while starting; its pipelines must not inherit that.
        assert not ignored_signals(started["pid"]) & HUP_BIT
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
