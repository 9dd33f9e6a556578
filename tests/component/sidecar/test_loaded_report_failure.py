"""The sidecar's Pod-status reporter says when a config could not be rendered.

The patches go to a list here instead of an API server (the cluster tier,
tests/cluster/test_explain.py, sends them to a real kube-apiserver): this checks which condition
is reported in which order, and that a render that works again replaces the failure.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kasugai_sidecar.loaded_report import (
    MESSAGE_LIMIT,
    RENDER_FAILED,
    LoadedReporter,
    render_failed_condition,
)

from kasugai.backoff import Backoff
from kasugai.core import names
from kasugai.core.parse import parse_body
from kasugai.core.rewiring import config_digest

CONFIG = '{"ips": ["10.96.0.7"], "ports": [{"port": 8080, "protocol": "TCP"}]}'


async def _reported(steps: list[tuple[str, str]]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    reporter = LoadedReporter(lambda body: sent.append(body), Backoff(0.01, 0.01, 0.0))
    task = asyncio.create_task(reporter.run())
    for number, (verb, value) in enumerate(steps, 1):
        if verb == "loaded":
            reporter.report(value)
        else:
            reporter.report_failure(value)
        while len(sent) < number:  # each one is patched before the next comes
            await asyncio.sleep(0.01)
    task.cancel()
    return [body["status"]["conditions"][0] for body in sent]


def test_a_render_failure_then_a_good_render_are_both_reported() -> None:
    found = asyncio.run(
        _reported([("loaded", CONFIG), ("failed", "config.yaml.tmpl: unexpected EOF"),
                   ("loaded", CONFIG)])
    )  # fmt: skip
    assert [c["status"] for c in found] == ["True", "False", "True"]
    failed = found[1]
    assert failed["type"] == names.CONNECTION_LOADED_CONDITION
    assert failed["reason"] == RENDER_FAILED
    assert failed["message"] == "config.yaml.tmpl: unexpected EOF"
    assert found[2]["message"] == config_digest(CONFIG)


def test_the_controller_reads_a_render_failure_as_nothing_loaded() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns"},
        "status": {"phase": "Running", "conditions": [render_failed_condition("bad")]},
    }
    facts = parse_body("Pod", "ns", pod)
    assert facts.loaded == ""  # type: ignore[union-attr]


def test_a_long_error_is_cut_and_kept_on_one_line() -> None:
    message = render_failed_condition("x\n" * 5000)["message"]
    assert len(message) == MESSAGE_LIMIT and "\n" not in message
