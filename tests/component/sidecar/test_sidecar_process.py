"""The sidecar as a real process: file source, real templates, real SIGHUPs to real processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

from kasugai_sidecar.testing import write_config
from sidecar_rig import POD, Rig

from kasugai.testing import start_process, wait_until

CALC_ONE = {"ips": ["10.96.12.34"], "ports": [{"port": 8080, "protocol": "TCP"}]}
CALC_TWO = {"ips": ["10.96.7.8"], "ports": [{"port": 9090, "protocol": "TCP"}]}


def calc_output(host: str, port: int) -> str:
    return f'next:\n  host: "{host}"\n  port: {port}\n'


def test_renders_then_signals_the_function_with_the_new_file(rig: Rig) -> None:
    output = rig.template().with_suffix("")
    fn = rig.function()
    rig.sidecar()
    write_config(rig.source, CALC_ONE)
    wait_until(lambda: len(fn.signals()) == 1, "the first SIGHUP")
    # The function, reloading on SIGHUP, already reads the new file.
    assert fn.signals() == [calc_output("10.96.12.34", 8080)]
    assert output.read_text() == calc_output("10.96.12.34", 8080)

    write_config(rig.source, CALC_TWO)
    wait_until(lambda: len(fn.signals()) == 2, "the second SIGHUP")
    assert fn.signals()[1] == calc_output("10.96.7.8", 9090)


def test_no_signal_when_no_output_changes(rig: Rig) -> None:
    rig.template()
    fn = rig.function()
    sidecar = rig.sidecar()
    write_config(rig.source, CALC_ONE)
    wait_until(lambda: len(fn.signals()) == 1, "the first SIGHUP")
    # The same config, written differently: accepted, rendered, but the output is the same.
    write_config(rig.source, json.dumps(CALC_ONE))
    wait_until(lambda: sidecar.count("config accepted") == 2, "the rewritten config")
    write_config(rig.source, CALC_TWO)
    wait_until(lambda: sidecar.count("config accepted") == 3, "the changed config")
    wait_until(lambda: len(fn.signals()) >= 2, "the SIGHUP for the change")
    assert fn.signals() == [calc_output("10.96.12.34", 8080), calc_output("10.96.7.8", 9090)]


def test_bad_data_is_reported_and_the_last_good_files_stay(rig: Rig) -> None:
    output = rig.template().with_suffix("")
    fn = rig.function()
    sidecar = rig.sidecar()
    write_config(rig.source, CALC_ONE)
    wait_until(lambda: len(fn.signals()) == 1, "the first SIGHUP")
    good = output.read_text()

    bad_configs = {  # config text -> the start of the problem the sidecar must name
        "{not json": "config: not valid JSON",
        '{"ips": ["10.96.12.300"], "ports": []}': "config.ips[0]: not an IP address",
        '{"ports": [{"port": 70000, "protocol": "TCP"}]}': "config.ports[0].port: not a port",
        '{"ports": [{"port": 80, "protocol": "ICMP"}]}': "config.ports[0].protocol: not a",
        '{"outputs": {"1": {"ips": ["10.0.0.1; rm -rf /"]}}}': "config.outputs['1'].ips[0]",
    }
    for number, (text, problem) in enumerate(bad_configs.items(), start=1):
        write_config(rig.source, text)
        rejected = wait_until(
            lambda n=number: [e for e in sidecar.events() if e["event"].startswith("config rej")][
                n - 1 : n
            ],
            f"rejection of {text!r}",
        )
        assert any(p.startswith(problem) for p in rejected[0]["problems"]), rejected
        assert output.read_text() == good
    assert not sidecar.process.exited()
    assert len(fn.signals()) == 1

    # A template that cannot run on the data keeps its old output; the others still render.
    broken = rig.config_dir / "broken.yaml.tmpl"
    broken.write_text("{{index .ips 0}}")
    wait_until(lambda: len(fn.signals()) == 2, "the SIGHUP for the new broken.yaml")
    assert (rig.config_dir / "broken.yaml").read_text() == "10.96.12.34"
    broken.write_text("{{if .ips}}unclosed")
    wait_until(lambda: sidecar.count("template failed; keeping its last output") >= 1, "failure")
    write_config(rig.source, {})  # the calcapp template handles {}, index .ips does not
    wait_until(lambda: len(fn.signals()) == 3, "the SIGHUP for the {} render")
    assert fn.signals()[2] == calc_output("localhost", 8080)
    assert (rig.config_dir / "broken.yaml").read_text() == "10.96.12.34"
    assert not sidecar.process.exited()


def test_a_template_that_appears_later_is_rendered_with_the_last_config(rig: Rig) -> None:
    fn = rig.function()
    sidecar = rig.sidecar()
    write_config(rig.source, CALC_ONE)
    wait_until(lambda: sidecar.count("config accepted") == 1, "the config")
    template = rig.template()
    wait_until(lambda: template.with_suffix("").exists(), "the late template's output")
    assert template.with_suffix("").read_text() == calc_output("10.96.12.34", 8080)
    wait_until(lambda: len(fn.signals()) == 1, "the SIGHUP for the new file")


def test_a_config_file_that_appears_later_is_picked_up(rig: Rig) -> None:
    output = rig.template().with_suffix("")
    sidecar = rig.sidecar()
    wait_until(lambda: sidecar.count("config file not there yet; waiting for it"), "the wait")
    write_config(rig.source, CALC_TWO)
    wait_until(lambda: output.exists(), "the rendered file")
    assert output.read_text() == calc_output("10.96.7.8", 9090)


def test_a_burst_of_100_updates_costs_at_most_two_signals(rig: Rig) -> None:
    output = rig.template().with_suffix("")
    fn = rig.function()
    rig.sidecar()
    wait_until(fn.is_ready, "the function")
    configs = [
        {"ips": ["10.1.0.1"], "ports": [{"port": 1000 + i, "protocol": "TCP"}]} for i in range(100)
    ]
    # Written as fast as possible (no fsync), each by an atomic rename.
    for config in configs:
        rig.source.with_suffix(".tmp").write_text(json.dumps(config))
        rig.source.with_suffix(".tmp").rename(rig.source)
    final = calc_output("10.1.0.1", 1099)
    wait_until(lambda: output.read_text() == final if output.exists() else False, "final file")
    wait_until(lambda: final in fn.signals(), "a SIGHUP after the final file")
    assert 1 <= len(fn.signals()) <= 2, fn.signals()


def test_a_reader_never_sees_a_partial_file(rig: Rig) -> None:
    """Large outputs replaced 40 times while a reader reads as fast as it can."""
    template = rig.config_dir / "big.tmpl"
    template.write_text("{{len .ips}}\n{{range .ips}}{{.}}\n{{end}}end {{len .ips}}\n")
    output = rig.config_dir / "big"
    sidecar = rig.sidecar()
    done = threading.Event()
    reads: list[int] = []
    torn: list[str] = []

    def read_continuously() -> None:
        while not done.is_set():
            try:
                text = output.read_text()
            except FileNotFoundError:
                continue
            lines = text.splitlines()
            count = int(lines[0])
            if not (
                text.endswith("\n") and lines[-1] == f"end {count}" and len(lines) == count + 2
            ):
                torn.append(text[:80] + "..." + text[-80:])
            reads.append(count)

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        for i in range(40):
            ips = [f"10.{i}.{n // 250}.{n % 250}" for n in range(3000 + 97 * i)]
            write_config(rig.source, {"ips": ips, "ports": []})
            marker = f"end {len(ips)}\n"
            wait_until(
                lambda m=marker: output.exists() and output.read_text().endswith(m), "render"
            )
    finally:
        done.set()
        reader.join()
    assert torn == []
    assert len(set(reads)) > 10  # the reader did see many versions
    assert sidecar.count("rendered") >= 40


def test_signals_every_match_of_its_pod_and_nothing_else(rig: Rig) -> None:
    rig.template()
    first, second = rig.function("first"), rig.function("second")
    other_pod = rig.function("other-pod", pod="calc-wbfunction-minus-cpu-pod")
    sidecar = rig.sidecar()
    write_config(rig.source, CALC_ONE)
    wait_until(lambda: first.signals() and second.signals(), "both functions of the Pod")
    sent = wait_until(
        lambda: [e["pid"] for e in sidecar.events() if e["event"] == "sighup sent"][1:],
        "two logged PIDs",
    )
    pids = [e["pid"] for e in sidecar.events() if e["event"] == "sighup sent"]
    assert sorted(pids) == sorted([first.process.pid, second.process.pid]), sent
    assert other_pod.signals() == []
    assert sidecar.process.pid not in pids


def test_waits_for_a_function_that_starts_later(rig: Rig) -> None:
    rig.template()
    sidecar = rig.sidecar()
    write_config(rig.source, CALC_ONE)
    wait_until(lambda: sidecar.count("waiting for the function before signalling"), "the wait")
    fn = rig.function()
    wait_until(lambda: fn.signals(), "the late function's SIGHUP")


def test_never_signals_a_process_without_a_sighup_handler(rig: Rig, tmp_path: Path) -> None:
    """SIGHUP would end it: the sidecar waits a bounded time, gives up and says why."""
    rig.template()
    script = tmp_path / "no_handler.py"
    script.write_text("import time\ntime.sleep(3600)\n")
    plain = start_process(
        "no-handler",
        [sys.executable, str(script)],
        tmp_path / "no-handler.log",
        env={**os.environ, "K8S_POD_NAME": POD},
    )
    rig.started.append(plain)
    sidecar = rig.sidecar("--signal-retry-seconds", "1", process_name="no_handler.py")
    write_config(rig.source, CALC_ONE)
    gave_up = wait_until(
        lambda: [e for e in sidecar.events() if e["event"].startswith("sighup not delivered")],
        "the sidecar to give up",
    )
    assert gave_up[0]["no_handler_pids"] == [plain.pid]
    assert not plain.exited()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_healthz_and_metrics(rig: Rig) -> None:
    rig.template()
    fn = rig.function()
    port = _free_port()
    rig.sidecar("--metrics-port", str(port), "--metrics-host", "127.0.0.1")
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: _get_or_none(base + "/healthz") == (200, "ok\n"), "a healthy sidecar")
    write_config(rig.source, CALC_ONE)
    wait_until(lambda: fn.signals(), "the SIGHUP")
    write_config(rig.source, "{broken")
    status, metrics = _get(base + "/metrics")
    assert status == 200
    wait_until(
        lambda: (
            'kasugai_sidecar_render_errors_total{kind="config"} 1.0' in _get(base + "/metrics")[1]
        ),
        "the rejected config in /metrics",
    )
    _, metrics = _get(base + "/metrics")
    assert "kasugai_sidecar_signals_sent_total 1.0" in metrics
    assert "kasugai_sidecar_reloads_total 1.0" in metrics
    assert "kasugai_sidecar_watch_restarts_total" in metrics


def _get_or_none(url: str) -> tuple[int, str] | None:
    try:
        return _get(url)
    except OSError:
        return None  # not listening yet


def test_healthz_fails_while_the_api_watch_is_dead(rig: Rig, tmp_path: Path) -> None:
    """An API server that refuses connections: the watch restarts with backoff, /healthz is 503."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "c", "cluster": {"server": f"http://127.0.0.1:{_free_port()}"}}
                ],
                "users": [{"name": "u", "user": {}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    port = _free_port()
    api = rig.sidecar(
        "--metrics-port",
        str(port),
        "--metrics-host",
        "127.0.0.1",
        "--kubeconfig",
        str(kubeconfig),
        source="kubernetes",
    )
    status, body = wait_until(
        lambda: (
            (r := _get_or_none(f"http://127.0.0.1:{port}/healthz")) and "watch failed" in r[1] and r
        ),
        "/healthz to report the dead watch",
    )
    assert status == 503
    assert "config source: watch failed" in body
    assert "template watch" not in body  # the template watch itself is fine
    wait_until(
        lambda: (
            'kasugai_sidecar_watch_restarts_total{watch="configmap"} 2.0'
            in _get(f"http://127.0.0.1:{port}/metrics")[1]
        ),
        "two counted reconnects",
    )
    assert not api.process.exited()


def test_exits_cleanly_on_sigterm_and_sigint(rig: Rig) -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        sidecar = rig.sidecar()
        wait_until(lambda s=sidecar: s.count("sidecar started"), "the start")
        os.kill(sidecar.process.pid, signum)
        assert sidecar.process.popen.wait(timeout=60) == 0
        assert sidecar.count("sidecar stopping") == 1
