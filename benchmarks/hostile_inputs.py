"""Benchmark of hostile and huge inputs: time and peak memory of ``kasugai plan`` on them.

Run by hand: ``.venv/bin/python benchmarks/hostile_inputs.py [MB]`` (default 50). Writes, in a
temporary directory, MB of many small documents (unrelated ConfigMaps, as a cluster dump holds)
and MB of whole calc scenarios (one namespace each: 5 config ConfigMaps, 7 functioninfos, 7
FunctionTypes, a FunctionChain and a DataFlow, so the plan prints 21 objects per scenario), then
a few pathological files, and runs the real ``kasugai plan -f FILE`` on each. Prints wall and CPU
seconds and the peak resident memory (``ru_maxrss`` of the child) per file. Before bounded
parsing, 50 MB of small documents took 254 s and 1.3 GB; pathological files crashed it.
The last lines time the sidecar's template lexer on the largest template it accepts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kasugai_sidecar.gotemplate import Template, TemplateError

from kasugai.core import bounded
from kasugai.testing.hostile import YAML_TEXTS, hostile_bytes

REPO = Path(__file__).resolve().parent.parent
KASUGAI = Path(sys.executable).with_name("kasugai")
CALC = REPO / "manifests" / "samples" / "calc"
CALC_FILES = (
    "cm-cpufunc-config.yaml",
    "functioninfo.yaml",
    "functiontype.yaml",
    "functionchain.yaml",
    "df-cpufunc.yaml",
)


def small_configmap(index: int) -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm{index}\n"
        f"  namespace: ns{index % 100}\n  labels:\n    app: filler\n"
        f"data:\n  key: value-{index}\n  other: '{'x' * 300}'\n---\n"
    )


def calc_scenario(index: int) -> str:
    text = "\n---\n".join((CALC / name).read_text() for name in CALC_FILES)
    return text.replace("cpufunc-calcapp", f"ns{index}") + "\n---\n"


def write_until(path: Path, size: int, document: Callable[[int], str]) -> int:
    """Documents into ``path`` until it holds ``size`` bytes; how many."""
    count = written = 0
    with path.open("w") as out:
        while written < size:
            text = document(count)
            out.write(text)
            written += len(text)
            count += 1
    return count


def run_plan(path: Path) -> tuple[int, float, float, float, str]:
    """(exit status, wall s, CPU s, peak RSS MiB, last stderr line) of ``kasugai plan -f``."""
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        child = subprocess.Popen(
            [str(KASUGAI), "plan", "-f", str(path)], stdout=sink, stderr=subprocess.PIPE
        )
        assert child.stderr is not None
        err = child.stderr.read().decode(errors="replace")
        _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    last = (err.strip().splitlines() or [""])[-1]
    return child.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, last


def report(name: str, path: Path, note: str = "") -> None:
    code, wall, cpu, rss, last = run_plan(path)
    size = path.stat().st_size / 1e6
    print(
        f"{name:28} {size:7.1f} MB  exit {code}  {wall:7.2f} s wall  {cpu:7.2f} s CPU  "
        f"{rss:7.0f} MiB peak  {note}"
    )
    if code not in (0, 2) or "Traceback" in last:
        print(f"    unexpected: {last[:200]}")


def time_template() -> None:
    action = "{{ .ips }}\n"
    text = action * (bounded.TEMPLATE_BYTES // len(action))
    started = time.process_time()
    try:
        Template("big", text).execute({"ips": ["10.0.0.1"]})
        outcome = "rendered"
    except TemplateError as error:
        outcome = str(error)[:80]
    seconds = time.process_time() - started
    print(
        f"{'template lexer':28} {len(text) / 1e6:7.2f} MB  {seconds:.2f} s CPU  "
        f"{len(text) // len(action):,} actions: {outcome}"
    )


def main(argv: list[str]) -> None:
    megabytes = float(argv[0]) if argv else 50.0
    size = int(megabytes * 1e6)
    with tempfile.TemporaryDirectory(prefix="kasugai-hostile-") as tmp:
        root = Path(tmp)
        print(f"kasugai plan -f FILE, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
        small = root / "small.yaml"
        count = write_until(small, size, small_configmap)
        report("many small ConfigMaps", small, f"{count:,} documents")
        chains = root / "chains.yaml"
        count = write_until(chains, size, calc_scenario)
        report("whole calc scenarios", chains, f"{count:,} DataFlows, {count * 21:,} objects out")
        for name in ("deep flow", "billion laughs", "int digits", "deep block"):
            path = root / f"{name.replace(' ', '-')}.yaml"
            path.write_bytes(hostile_bytes(YAML_TEXTS[name]))
            report(name, path, "(refused, exit 2)")
        empties = root / "empty-documents.yaml"
        empties.write_text("---\n" * 1_000_001)
        report("1,000,001 empty documents", empties, "(refused, exit 2)")
    time_template()


if __name__ == "__main__":
    main(sys.argv[1:])
