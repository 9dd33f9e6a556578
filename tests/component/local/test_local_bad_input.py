"""Bad input: clear errors naming the file, the Pod or the field; nothing left running; a running
DataFlow keeps its last good state through a bad edit."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from local_calc import FIRST, send, wait_wired
from local_samples import REPO, StartRun, edit_entries

from kasugai.adapters.local.testing import KASUGAI, LocalRun, StartFailed, wait_until
from kasugai.commands.demo_chain import CHAIN_FILE
from kasugai.testing.hostile import MARKER, YAML_TEXTS, hostile_bytes

ORIGINAL_SAMPLE = REPO / "tests" / "fixtures" / "openkasugai" / "calc-func" / "basic"


def _failed_up(source: Path, tmp_path: Path, *, unreadable: bool = False) -> StartFailed:
    """``kasugai up`` of ``source`` failed; with ``unreadable`` inputs before touching anything."""
    run = LocalRun(source, tmp_path / "state", tmp_path / "up.log")
    with pytest.raises(StartFailed) as failure:
        run.start()
    run.close()
    assert run.leftovers() == []
    if unreadable:
        assert not run.state.root.exists()
    else:
        assert run.snapshot()["supervisor"]["phase"] == "Failed"
        assert run.snapshot()["pods"] == []
    return failure.value


def test_the_original_sample_names_each_program_that_cannot_run_here(tmp_path: Path) -> None:
    failure = _failed_up(ORIGINAL_SAMPLE, tmp_path)
    assert failure.returncode == 2
    assert (
        "kasugai up: error: pod df-calcapp-wbfunction-plus-cpu-pod container cpu-container0: "
        "command '/calcapp' is a path inside the image localhost/cpufunc_calcapp:latest and does "
        "not exist here; use the portable samples (manifests/samples/calc, "
        "manifests/samples/video-*) or put the program on PATH"
    ) in failure.output
    assert (
        "pod df-calcapp-wbfunction-rcv-cpu-pod container cpu-container1: command '/sidecar' is a "
        "path inside the image localhost/cpufunc_sidecar:latest"
    ) in failure.output


def test_a_chain_naming_an_unknown_function_is_an_error_naming_the_file(
    calc_sample: Path, tmp_path: Path
) -> None:
    chain = calc_sample / CHAIN_FILE
    chain.write_text(chain.read_text().replace('functionKey: "rcv"', 'functionKey: "rvc"', 1))
    failure = _failed_up(calc_sample, tmp_path)
    assert failure.returncode == 2
    assert f"{chain}: FunctionChain cpufunc-calcapp/calcapp-chain:" in failure.output
    assert "'rvc'" in failure.output


def test_unreadable_yaml_is_an_error_with_its_line(calc_sample: Path, tmp_path: Path) -> None:
    (calc_sample / CHAIN_FILE).write_text("kind: FunctionChain\nmetadata: {name: x\n")
    failure = _failed_up(calc_sample, tmp_path, unreadable=True)
    assert failure.returncode == 2
    assert f"{calc_sample / CHAIN_FILE}: invalid YAML: " in failure.output
    assert "(line 3 column 1)" in failure.output


@pytest.mark.parametrize("name", ["billion laughs", "deep flow", "int digits", "not UTF-8"])
def test_a_hostile_input_file_is_an_error_naming_it(
    calc_sample: Path, tmp_path: Path, name: str
) -> None:
    hostile = calc_sample / "zz-hostile.yaml"
    hostile.write_bytes(hostile_bytes(YAML_TEXTS[name]))
    failure = _failed_up(calc_sample, tmp_path, unreadable=True)
    assert failure.returncode == 2
    assert f"kasugai up: error: {hostile}: " in failure.output
    assert MARKER not in failure.output
    assert "Traceback" not in failure.output


def test_a_second_up_on_the_same_state_directory_is_refused(
    calc_sample: Path, start_run: StartRun, tmp_path: Path
) -> None:
    run = start_run(calc_sample)
    second = subprocess.run(
        [*KASUGAI, "up", str(calc_sample), "--state-dir", str(run.state.root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 2
    assert f"already runs with state directory {run.state.root}" in second.stderr
    assert run.snapshot()["supervisor"]["phase"] == "Running"


def test_a_bad_edit_keeps_the_running_chain_and_says_why(
    calc_sample: Path, start_run: StartRun
) -> None:
    run = start_run(calc_sample)
    wait_wired(run)
    pids = run.pids(("plus", "rcv"))
    chain = calc_sample / CHAIN_FILE
    good = chain.read_text()

    chain.write_text(good + "  - from: {functionKey: [\n")  # a half-saved edit
    wait_until(lambda: run.snapshot()["problems"], "the problem to be reported")
    assert "invalid YAML" in run.snapshot()["problems"][0]

    chain.write_bytes(hostile_bytes(YAML_TEXTS["billion laughs"]))  # a hostile one
    wait_until(lambda: "aliases expand" in " ".join(run.snapshot()["problems"]), "the hostile file")
    assert MARKER not in json.dumps(run.snapshot())

    chain.write_text(good.replace('functionKey: "rcv"', 'functionKey: "rvc"', 1))
    wait_until(
        lambda: run.dataflow_status("df-calcapp").get("status") == "Error", "the Error status"
    )
    assert "'rvc'" in run.dataflow_status("df-calcapp")["message"]
    assert run.snapshot()["problems"] == []
    assert send(run, "1", "2", "3", "4", "5") == FIRST  # the last good wiring still runs

    chain.write_text(good)
    wait_until(lambda: run.dataflow_status("df-calcapp").get("status") == "Deployed", "Deployed")
    assert run.pids(("plus", "rcv")) == pids


def test_an_edit_to_a_program_that_cannot_run_keeps_the_old_pod(
    calc_sample: Path, start_run: StartRun
) -> None:
    run = start_run(calc_sample)
    wait_wired(run)
    plus = run.pids(("plus",))

    def image_path(name: str, entry: dict[str, Any]) -> None:
        if name.endswith("-plus"):
            entry["template"]["spec"]["containers"][0]["command"][0] = "/calcapp"

    edit_entries(calc_sample, image_path)
    wait_until(lambda: run.snapshot()["problems"], "the problem to be reported")
    problem = run.snapshot()["problems"][0]
    assert problem.startswith(
        "pod df-calcapp-wbfunction-plus-cpu-pod container cpu-container0: command '/calcapp' is "
        "a path inside the image"
    )
    assert run.pids(("plus",)) == plus
    assert send(run, "1", "2", "3", "4", "5") == FIRST


def test_up_tells_a_person_what_is_wrong_in_plain_lines(calc_sample: Path, tmp_path: Path) -> None:
    """Its output piped, as in a CI log: lines for people, not JSON (that is for files)."""
    with LocalRun(calc_sample, tmp_path / "state", tmp_path / "up.log", log_format=None) as run:
        wait_wired(run)
        chain = calc_sample / CHAIN_FILE
        chain.write_text(chain.read_text().replace("connections:", "conections:", 1))
        wait_until(lambda: "conections" in run.output.read_text(), "the error to be printed")
    printed = run.output.read_text().splitlines()
    errors = [line for line in printed if "conections" in line]
    # One line for the chain, one for the DataFlow that uses it.
    assert [e.split("]", 1)[1].split()[:2] for e in errors] == [
        ["DataFlow", "Error"],
        ["FunctionChain", "Error"],
    ]
    assert all("unknown field 'conections' (did you mean 'connections'?)" in e for e in errors)
    assert not [line for line in printed if line.startswith("{")]
