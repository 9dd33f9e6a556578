"""``kasugai-calc -idle``, the send function's container: it installs the template for its
sidecar, survives the sidecar's SIGHUPs, and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from kasugai_functions.calc.config import TEMPLATE_FILE
from kasugai_functions.calc.testing import calc_executable, read_events, wait_until

TEMPLATE = Path(__file__).parents[2] / "fixtures" / "openkasugai" / "templates"


def test_idle_installs_the_template_and_waits_for_sigterm(tmp_path: Path) -> None:
    log_path = tmp_path / "idle.log"
    env = {**os.environ, "KASUGAI_LOG_FORMAT": "json"}
    command = [str(calc_executable()), "-idle", "--config-dir", str(tmp_path)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stderr=log, start_new_session=True)
    try:
        wait_until(lambda: any(e["event"] == "idle" for e in read_events(log_path)), "idle")
        template = TEMPLATE / "calcapp-config.yaml.tmpl"
        assert (tmp_path / TEMPLATE_FILE).read_bytes() == template.read_bytes()

        process.send_signal(signal.SIGHUP)
        wait_until(
            lambda: any("load config skipped" in e["event"] for e in read_events(log_path)),
            "the SIGHUP to be logged",
        )
        assert process.poll() is None

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_idle_without_a_config_directory_fails_clearly(tmp_path: Path) -> None:
    missing = tmp_path / "absent"
    env = {**os.environ, "KASUGAI_LOG_FORMAT": "json"}
    command = [str(calc_executable()), "-idle", "--config-dir", str(missing)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "cannot install the config template" in done.stderr
