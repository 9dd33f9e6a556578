"""``kasugai demo``, as a user runs it: both results match the contract, nothing is left."""

from __future__ import annotations

import os
import re
import subprocess

from local_calc import FIRST, SECOND

from kasugai.adapters.local.testing import KASUGAI


def _rows(output: str, operators: list[str]) -> list[tuple[str, float, str]]:
    """(operator, result, mark) of each result-table row, in order."""
    rows = []
    for line in output.splitlines():
        match = re.fullmatch(r"(\w+)\s+(\S+)\s+(\S+)\s+([✔✘])", line.strip())
        if match and match.group(1) in operators:
            rows.append((match.group(1), float(match.group(2)), match.group(4)))
    return rows


def test_the_demo_prints_both_results_and_leaves_nothing() -> None:
    demo = subprocess.run(
        [*KASUGAI, "demo"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    rows = _rows(demo.stdout, [name for name, _ in FIRST])
    assert [(name, value) for name, value, _ in rows] == FIRST + SECOND
    assert {mark for _, _, mark in rows} == {"✔"}
    assert "Rewired the chain to send -> plus -> minus -> rcv" in demo.stdout
    assert re.search(r"reloaded its next hop \d+ ms after the edit", demo.stdout)
    assert "Stopped; no process left" in demo.stdout
