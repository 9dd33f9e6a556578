"""The template renderer gives Go's outcome: the same bytes, or an error of the same kind.

Go's answers are recorded in gotemplate_vectors.json (so the check runs anywhere) and the Go
oracle re-renders every case live (Go is part of this machine kind; its absence is a failure).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import goparity
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kasugai_sidecar.gotemplate import (
    Template,
    TemplateExecError,
    TemplateParseError,
    decode_json,
)

RECORDED: list[dict[str, str]] = json.loads(goparity.VECTORS.read_text())


def python_outcome(case: dict[str, str]) -> dict[str, str]:
    """Our renderer's outcome, in the oracle's shape."""
    try:
        data = decode_json(case["data"])
    except ValueError as err:
        return {"kind": "data_error", "output": "", "error": str(err)}
    try:
        return {"kind": "output", "output": Template(case["name"], case["template"]).execute(data)}
    except TemplateParseError as err:
        return {"kind": "parse_error", "output": "", "error": str(err)}
    except TemplateExecError as err:
        return {"kind": "exec_error", "output": "", "error": str(err)}


def assert_same_outcome(ours: dict[str, str], go: dict[str, str]) -> None:
    """Outputs must be byte-identical; errors must be of the same kind (parse or exec)."""
    assert (ours["kind"], ours["output"]) == (go["kind"], go["output"]), (
        f"Go said {go['kind']} {go['output'] or go['error']!r}; "
        f"we said {ours['kind']} {ours['output'] or ours.get('error')!r}"
    )


@pytest.mark.parametrize("vector", RECORDED, ids=[v["name"] for v in RECORDED])
def test_recorded_go_vector(vector: dict[str, str]) -> None:
    assert_same_outcome(python_outcome(vector), vector)


def test_recorded_vectors_cover_every_case() -> None:
    """The recorded file is regenerated whenever the case list changes."""
    recorded = [{k: v[k] for k in ("name", "template", "data")} for v in RECORDED]
    assert recorded == goparity.cases(), (
        "run: .venv/bin/python "
        + str(Path(goparity.__file__).relative_to(goparity.REPO))
        + " --write"
    )


def test_shipped_templates_are_covered() -> None:
    names = {v["name"].split("/")[0] for v in RECORDED}
    shipped = {p.name for p in goparity.TEMPLATES.glob("*.tmpl")}
    assert len(shipped) == 4
    assert shipped <= names


def test_live_go_agrees_with_recorded_vectors(go_oracle: Path) -> None:
    """Go itself still gives the recorded answers (a changed Go or a stale file shows here)."""
    live = goparity.run_oracle(go_oracle, goparity.cases())
    assert [(v["name"], v["kind"], v["output"]) for v in live] == [
        (v["name"], v["kind"], v["output"]) for v in RECORDED
    ]


def test_live_go_parity_for_every_recorded_case(go_oracle: Path) -> None:
    live = goparity.run_oracle(go_oracle, goparity.cases())
    mismatches = [
        case["name"]
        for case, go in zip(goparity.cases(), live, strict=True)
        if (python_outcome(case)["kind"], python_outcome(case)["output"])
        != (go["kind"], go["output"])
    ]
    assert mismatches == []


# Random JSON of the shape a ConfigMap holds, with awkward numbers and missing pieces.
json_numbers = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**20), 10**20)
json_leaves = st.none() | st.booleans() | json_numbers | st.text(max_size=8)
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["ips", "ports", "port", "x"]), inner, max_size=4)
    ),
    max_leaves=12,
)
configs = st.fixed_dictionaries(
    {},
    optional={
        "ips": st.lists(st.ip_addresses().map(str), max_size=3) | json_values,
        "ports": st.lists(
            st.fixed_dictionaries(
                {"port": json_numbers, "protocol": st.sampled_from(["TCP", "UDP", "SCTP"])}
            ),
            max_size=3,
        )
        | json_values,
        "outputs": json_values,
    },
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=configs)
def test_live_go_parity_on_random_configs(go_oracle: Path, config: dict[str, Any]) -> None:
    """Every shipped and feature template, on random configs, renders as Go renders it."""
    templates = {p.name: p.read_text() for p in sorted(goparity.TEMPLATES.glob("*.tmpl"))}
    templates.update(goparity.FEATURE_TEMPLATES)
    cases = [
        {"name": name, "template": text, "data": json.dumps(config)}
        for name, text in templates.items()
    ]
    for case, go in zip(cases, goparity.run_oracle(go_oracle, cases), strict=True):
        assert_same_outcome(python_outcome(case), go)
