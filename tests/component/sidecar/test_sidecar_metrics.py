"""The sidecar's render and signal metrics, scraped from a real sidecar after a known history."""

from __future__ import annotations

import socket
import time
import urllib.request

from kasugai_sidecar.testing import write_config
from prometheus_client.parser import text_string_to_metric_families
from sidecar_rig import Rig

from kasugai.atomic_files import write_atomically
from kasugai.testing import wait_until

CALC_ONE = {"ips": ["10.96.12.34"], "ports": [{"port": 8080, "protocol": "TCP"}]}
CALC_TWO = {"ips": ["10.96.7.8"], "ports": [{"port": 9090, "protocol": "TCP"}]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(port: int) -> dict[str, float]:
    """The unlabelled samples of /metrics by name (``None`` if not listening yet)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels
    }


def scrape_when_up(port: int) -> dict[str, float] | None:
    try:
        return scrape(port)
    except OSError:
        return None


def test_renders_failures_signals_and_the_last_reload_are_counted(rig: Rig) -> None:
    rig.template()
    fn = rig.function()
    port = _free_port()
    rig.sidecar("--metrics-port", str(port), "--metrics-host", "127.0.0.1")
    before = wait_until(lambda: scrape_when_up(port), "the sidecar's /metrics")
    assert before["kasugai_sidecar_renders_total"] == 0  # no config yet: nothing rendered
    assert before["kasugai_sidecar_last_reload_timestamp_seconds"] == 0

    write_config(rig.source, CALC_ONE)
    wait_until(lambda: len(fn.signals()) == 1, "the first SIGHUP")
    started = time.time()
    write_config(rig.source, CALC_TWO)
    wait_until(lambda: len(fn.signals()) == 2, "the second SIGHUP")
    wait_until(
        lambda: scrape(port)["kasugai_sidecar_last_reload_timestamp_seconds"] >= started,
        "the second reload's time",
    )
    finished = time.time()
    # A template that cannot render (no fifth address): counted, its (absent) output left alone.
    write_atomically(rig.config_dir / "broken.yaml.tmpl", "host: {{index .ips 5}}\n")
    wait_until(
        lambda: scrape(port)["kasugai_sidecar_render_failures_total"] >= 1, "the failed render"
    )

    metrics = scrape(port)
    assert metrics["kasugai_sidecar_renders_total"] == 3
    assert metrics["kasugai_sidecar_render_failures_total"] == 1
    assert metrics["kasugai_sidecar_signals_total"] == 2
    assert metrics["kasugai_sidecar_signals_sent_total"] == 2  # the old name still works
    assert metrics["kasugai_sidecar_reloads_total"] == 2
    assert started <= metrics["kasugai_sidecar_last_reload_timestamp_seconds"] <= finished
    assert len(fn.signals()) == 2  # the failed template changed nothing, so no SIGHUP
