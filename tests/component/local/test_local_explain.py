"""``kasugai explain`` on a real ``kasugai up`` of the calc sample: it reads the state directory,
exits 0 once the DataFlow is Deployed with every Pod Running and Ready, 1 once it is not (after
``kasugai down``: the last known state of a runtime that is gone), 2 for a DataFlow that does not
exist."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from local_calc import wait_wired
from local_samples import StartRun

from kasugai.adapters.local.testing import wait_until
from kasugai.testing.controller import KASUGAI

NAMESPACE, NAME = "cpufunc-calcapp", "df-calcapp"


def test_explain_exits_0_once_the_local_calc_chain_is_deployed(
    calc_sample: Path, start_run: StartRun
) -> None:
    run = start_run(calc_sample)
    wait_wired(run)
    done = wait_until(
        lambda: (r := run.kasugai("explain", NAME)).returncode == 0 and r, "explain to exit 0"
    )
    assert done.stdout.startswith(f"DataFlow {NAMESPACE}/{NAME}: Deployed\n"), done.stdout
    assert "Healthy: 7/7 Pods Running and Ready, 6/6 connections published" in done.stdout

    found = json.loads(run.kasugai("explain", f"dataflow/{NAME}", "-o", "json").stdout)
    assert found["healthy"] is True and found["causes"] == []

    # A journal of the same DataFlow (here the one `kasugai plan` writes): its transitions too.
    journal = calc_sample.parent / "journal.jsonl"
    plan = [str(KASUGAI), "plan", "-f", str(calc_sample), "--journal", str(journal)]
    planned = subprocess.run(plan, capture_output=True, text=True, timeout=120, check=False)
    assert journal.exists(), planned.stderr
    with_journal = run.kasugai("explain", NAME, "--journal", str(journal))
    assert with_journal.returncode == 0, with_journal.stderr
    assert "Transitions (journal, newest last):\n  DataFlow: New -> " in with_journal.stdout

    missing = run.kasugai("explain", "nope", "-n", NAMESPACE)
    assert missing.returncode == 2
    assert 'Error from server (NotFound): dataflows.example.com "nope" not found' in missing.stderr

    assert run.down().returncode == 0
    stopped = run.kasugai("explain", NAME)
    assert stopped.returncode == 1
    assert "NotRunning" in stopped.stdout and "kasugai up DIR" in stopped.stdout
