"""Hostile files through the real ``kasugai`` command: exit 2, one line naming the file (and the
object and field where there is one), never a traceback, never a value of the input.

A fixed corpus runs as real subprocesses (plan, diff, replay); a hypothesis-generated one runs
the same entry point in-process (``kasugai.cli.main``), fast enough for many examples.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from core_helpers import CALC, FACTS, bodies, find
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kasugai.cli import log_fault, main
from kasugai.runtime_env import configure_logging
from kasugai.testing.hostile import (
    JSON_TEXTS,
    MARKER,
    YAML_TEXTS,
    as_yaml,
    configmap,
    hostile_bytes,
    pod_with_network_status,
)

KASUGAI = Path(sys.executable).parent / "kasugai"


def kasugai(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KASUGAI), *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], command: str, file: Path):
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    assert MARKER not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"kasugai {command}: error: {file}"), lines[0]
    assert len(lines[0]) < 600, lines[0]


@pytest.mark.parametrize("name", sorted(YAML_TEXTS))
def test_plan_and_diff_of_a_hostile_yaml_file(tmp_path: Path, name: str) -> None:
    file = tmp_path / "hostile.yaml"
    file.write_bytes(hostile_bytes(YAML_TEXTS[name]))
    assert_one_line_error(kasugai("plan", "-f", file), "plan", file)
    assert_one_line_error(kasugai("diff", "-f", file), "diff", file)


@pytest.mark.parametrize("name", sorted(JSON_TEXTS))
def test_plan_of_a_hostile_json_file(tmp_path: Path, name: str) -> None:
    file = tmp_path / "hostile.json"
    file.write_text(JSON_TEXTS[name])
    assert_one_line_error(kasugai("plan", "-f", file), "plan", file)


def test_a_deep_field_is_named_by_its_path_and_line(tmp_path: Path) -> None:
    file = tmp_path / "df.yaml"
    file.write_text(
        "kind: DataFlow\nmetadata: {name: df}\nspec:\n  functionChainRef: "
        + "[" * 200
        + "]" * 200
        + "\n"
    )
    result = kasugai("plan", "-f", file)
    assert_one_line_error(result, "plan", file)
    assert result.stderr.startswith(f"kasugai plan: error: {file}: spec.functionChainRef[0][0]"), (
        result.stderr
    )
    assert result.stderr.endswith(
        ": nested deeper than 100 levels (the limit) (line 4 column 119)\n"
    )


@pytest.mark.parametrize("name", sorted(JSON_TEXTS))
def test_hostile_values_inside_objects_are_errors_of_those_objects(
    tmp_path: Path, name: str
) -> None:
    items = bodies(CALC)
    config = find(items, "ConfigMap", "cpufunc-config-calcapp-plus")
    (key,) = config["data"]
    config["data"][key] = JSON_TEXTS[name]
    extra = [
        pod_with_network_status("df-calcapp-wbfunction-plus-cpu-pod", JSON_TEXTS[name]),
        configmap("unrelated", {"config": JSON_TEXTS[name]}),
    ]
    file = tmp_path / "calc.yaml"
    file.write_text(as_yaml(*items, *extra))
    result = kasugai("plan", "-f", file, "-f", FACTS / "calc-basic")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert MARKER not in result.stdout + result.stderr
    assert (
        f"error: {file} (document 8): DataFlow cpufunc-calcapp/df-calcapp: function 'plus': "
        f"ConfigMap default/cpufunc-config-calcapp-plus: data[{key}]"
    ) in result.stderr


def test_replay_of_a_hostile_journal(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    lines = {
        "deep": "[" * 100_000,
        "digits": "1" * 5000,
        "marker": json.dumps({"event": "Observed", "kind": {"x": MARKER}}),
        "not an object": json.dumps([MARKER]),
        "bytes": "\udcff",
    }
    for name, line in lines.items():
        journal.write_bytes(hostile_bytes(line + "\n"))
        result = kasugai("replay", journal)
        assert_one_line_error(result, "replay", journal)
        assert result.stderr.startswith(f"kasugai replay: error: {journal}:1: "), name


# --- in-process: the entry point itself ------------------------------------------------------


def test_a_fault_is_logged_with_its_type_and_place_never_its_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(logging.INFO)
    try:
        {}[MARKER]
    except KeyError as error:
        log_fault("reading a ConfigMap in namespace ns", error)
    logged = json.loads(capsys.readouterr().err)
    assert logged["event"] == "internal error; the object is treated as invalid"
    assert logged["during"] == "reading a ConfigMap in namespace ns"
    assert logged["error"] == "KeyError"
    assert logged["at"][-1].endswith(
        "in test_a_fault_is_logged_with_its_type_and_place_never_its_message"
    )
    assert MARKER not in json.dumps(logged)


# --- a generated corpus, through the same entry point in-process ----------------------------

KINDS = ("DataFlow", "FunctionChain", "FunctionType", "ConfigMap", "Pod", "Service")
DATA_KEYS = ("config", "deployableItems", "spec", "requestNodeNames")

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.just(MARKER),
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)


json_values = st.recursive(leaves, _containers, max_leaves=16)
pathological = st.one_of(
    st.sampled_from(sorted(JSON_TEXTS.values())),
    st.sampled_from(sorted(YAML_TEXTS.values())),
    st.builds(
        lambda n, opener: opener * n,
        st.integers(90, 3000),
        st.sampled_from(["[", '{"a":', "- ", "? ", "&a [", "*a "]),
    ),
    st.builds(lambda n, digits: digits * n, st.integers(90, 6000), st.sampled_from(["1", "9."])),
)


def _nested(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


@st.composite
def hostile_documents(draw: st.DrawFn) -> tuple[str, str]:
    """(suffix, text) of one file: a Kubernetes-like object with hostile parts, maybe broken."""
    kind = draw(st.sampled_from(KINDS))
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"name": draw(st.sampled_from(["x", "df-calcapp"])), "namespace": "ns"},
    }
    if kind == "ConfigMap":
        body["data"] = {draw(st.sampled_from(DATA_KEYS)): draw(pathological | st.text())}
    elif kind == "Pod":
        body = pod_with_network_status("p", draw(pathological))
    else:
        body["spec"] = draw(json_values)
    if draw(st.booleans()):
        body["spec"] = _nested(draw(json_values), draw(st.integers(95, 105)))
    as_json = draw(st.booleans())
    text = json.dumps(body) if as_json else yaml.safe_dump(body)
    if draw(st.booleans()):  # splice a pathological text somewhere, or cut the file short
        at = draw(st.integers(0, len(text)))
        text = text[:at] + (draw(pathological) if draw(st.booleans()) else "")
    return (".json" if as_json else ".yaml"), text


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=hostile_documents())
def test_generated_hostile_files_never_give_a_traceback(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    document: tuple[str, str],
) -> None:
    suffix, text = document
    file = tmp_path / f"generated{suffix}"
    file.write_bytes(hostile_bytes(text))
    status = main(["plan", "-f", str(file)])  # an exception here is the failure
    out, err = capsys.readouterr()
    assert status in (0, 2)
    assert MARKER not in out + err
    if status == 2:
        assert err.startswith(("kasugai plan: error: ", "error: ")), err
