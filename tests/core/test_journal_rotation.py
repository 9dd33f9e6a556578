"""The journal rotates by size, and each file, old or new, replays on its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from core_helpers import CALC, FACTS, bodies, observed

from kasugai.adapters.journal import JournalWriter, Snapshot, read_journal
from kasugai.core.engine import Engine

KASUGAI = Path(sys.executable).with_name("kasugai")


def test_a_full_journal_rotates_keeps_a_few_and_every_file_replays(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    engine = Engine()
    with JournalWriter(path, max_bytes=20_000, keep=2) as journal:
        for event in observed(bodies(CALC, FACTS / "calc-basic")):
            journal.apply(engine, event)
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == ["journal.jsonl", "journal.jsonl.1", "journal.jsonl.2"]
    # The current file starts from a snapshot of the world it was rotated at.
    entries = [entry for _, entry in read_journal(path)]
    snapshot = [e for e in entries if isinstance(e, Snapshot)]
    assert snapshot and {e.event.kind for e in snapshot} >= {"DataFlow", "ConfigMap"}
    for file in tmp_path.iterdir():
        replayed = subprocess.run(
            [str(KASUGAI), "replay", str(file)], capture_output=True, text=True, check=False
        )
        assert replayed.returncode == 0, (file.name, replayed.stdout, replayed.stderr)
