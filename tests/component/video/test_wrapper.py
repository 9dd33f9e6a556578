"""The wrapper as a real process: it runs, reloads, restarts, stops and reaps real pipelines.

The pipelines here are small Python programs that record what happens to them in a file, so each
test can see which signals arrived, how often a pipeline was started, and what was left behind.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from kasugai_functions.video.testing import LocalVideo, VideoFunction, wait_until

from kasugai.core import bounded
from kasugai.testing.hostile import JSON_TEXTS, MARKER, YAML_TEXTS, hostile_bytes

# argv: MARKER MODE. Appends "start <pid>" and every signal it sees to MARKER.
# MODE normal: exits on SIGINT; stubborn: ignores SIGINT and SIGTERM (only SIGKILL ends it).
PIPELINE = """
import os, signal, sys, time
marker, mode = sys.argv[1], sys.argv[2]
def note(text):
    with open(marker, "a") as out:
        out.write(text + "\\n")
def on_signal(signum, _frame):
    note(signal.Signals(signum).name)
    if mode == "normal":
        sys.exit(0)
signal.signal(signal.SIGINT, on_signal)
signal.signal(signal.SIGTERM, on_signal)
note(f"start {os.getpid()}")
while True:
    time.sleep(0.05)
"""


def pipeline_command(marker: Path, mode: str = "normal") -> list[str]:
    return [sys.executable, "-c", PIPELINE, str(marker), mode]


def write_config(function: VideoFunction, command: list[str] | str) -> None:
    text = command if isinstance(command, str) else json.dumps({"command": command})
    tmp = function.config_path.with_name(".config.yaml.tmp")
    tmp.write_text(text)
    os.replace(tmp, function.config_path)


def marks(marker: Path) -> list[str]:
    return marker.read_text().splitlines() if marker.exists() else []


def starts(marker: Path) -> list[int]:
    return [int(line.split()[1]) for line in marks(marker) if line.startswith("start ")]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return _state(pid) != "Z"


def _state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def zombies(pid: int) -> list[int]:
    return [c for c in children(pid) if _state(c) == "Z"]


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "pipeline.log"


def running_wrapper(video: LocalVideo, marker: Path, *args: str) -> VideoFunction:
    function = video.start("fn", None, *args)
    wait_until(lambda: function.events("waiting for config"), "the wrapper to wait for its config")
    write_config(function, pipeline_command(marker))
    wait_until(lambda: starts(marker), "the pipeline to start")
    return function


def test_waits_for_the_config_then_runs_it(video: LocalVideo, marker: Path) -> None:
    function = running_wrapper(video, marker)
    (pid,) = starts(marker)
    assert alive(pid)
    assert function.events("pipeline started")[0]["pid"] == pid


def test_sigterm_stops_the_pipeline_with_sigint_and_exits(video: LocalVideo, marker: Path) -> None:
    function = running_wrapper(video, marker)
    assert function.stop() == 0
    assert marks(marker)[1:] == ["SIGINT"]
    assert [e["signal"] for e in function.events("signalling pipeline")] == ["SIGINT"]


def test_a_stubborn_pipeline_gets_sigterm_then_sigkill(video: LocalVideo, marker: Path) -> None:
    function = video.start("fn", None, "--stop-timeout", "0.5")
    write_config(function, pipeline_command(marker, "stubborn"))
    wait_until(lambda: starts(marker), "the pipeline to start")
    (pid,) = starts(marker)
    assert function.stop() == 0
    assert [e["signal"] for e in function.events("signalling pipeline")] == [
        "SIGINT",
        "SIGTERM",
        "SIGKILL",
    ]
    assert marks(marker)[1:] == ["SIGINT", "SIGTERM"]
    assert not alive(pid)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("command: [", "invalid YAML"),
        ("cmd: [echo]", "missing field 'command'"),
        ("command: []", "non-empty list"),
        ("command: [echo, {a: 1}]", "command[1]"),
        ('command: [gst-launch-1.0, "udpsink host=10.0.0.1;touch /tmp/x"]', "command[1] host="),
        ("command: [gst-launch-1.0, udpsink, host=my-service]", "not an IP address"),
        ("command: [gst-launch-1.0, udpsink, host=10.0.0.1, port=99999]", "port="),
    ],
)
def test_a_bad_config_is_reported_and_the_last_good_pipeline_keeps_running(
    video: LocalVideo, marker: Path, text: str, named: str
) -> None:
    function = running_wrapper(video, marker)
    (pid,) = starts(marker)
    write_config(function, text)
    function.process.send_signal(signal.SIGHUP)
    wait_until(lambda: function.events("config rejected"), "the bad config to be rejected")
    rejected = function.events("config rejected")[0]
    assert named in rejected["error"]
    assert rejected["keeps_running"] == pipeline_command(marker)
    assert function.process.poll() is None
    assert alive(pid)
    assert starts(marker) == [pid]


def test_a_changed_config_and_sighup_restart_the_pipeline(video: LocalVideo, marker: Path) -> None:
    function = running_wrapper(video, marker)
    (first,) = starts(marker)
    other = marker.with_name("other.log")
    write_config(function, pipeline_command(other))
    function.process.send_signal(signal.SIGHUP)
    wait_until(lambda: starts(other), "the new pipeline to start")
    assert marks(marker)[1:] == ["SIGINT"]  # the old one was stopped gracefully
    assert not alive(first)


def test_a_changed_file_alone_restarts_the_pipeline(video: LocalVideo, marker: Path) -> None:
    function = running_wrapper(video, marker)
    other = marker.with_name("other.log")
    write_config(function, pipeline_command(other))  # no SIGHUP: the file watch sees it
    wait_until(lambda: starts(other), "the new pipeline to start")
    assert function.events("config loaded")[-1]["trigger"] == "config file changed"


def test_sighup_with_an_unchanged_config_keeps_the_pipeline(
    video: LocalVideo, marker: Path
) -> None:
    function = running_wrapper(video, marker)
    function.process.send_signal(signal.SIGHUP)
    wait_until(
        lambda: any(e["trigger"] == "SIGHUP" for e in function.events("config unchanged")),
        "the SIGHUP to be handled",
    )
    assert len(starts(marker)) == 1
    assert marks(marker)[1:] == []


def test_a_pipeline_stopped_at_end_of_stream_stays_stopped_until_sighup(
    video: LocalVideo, marker: Path
) -> None:
    """gst-launch -e exits 0 once SIGINT has finished a receiver's MP4 (the original's guide
    stops it so before copying the file); a restart would truncate that MP4."""
    function = running_wrapper(video, marker)
    (pid,) = starts(marker)
    os.kill(pid, signal.SIGINT)
    wait_until(lambda: function.events("pipeline finished"), "the pipeline to finish")
    assert function.events("pipeline finished")[0]["pid"] == pid
    time.sleep(2)  # the window a restart would come in (its backoff is 0.5 s), not a timing check
    assert starts(marker) == [pid]
    assert not function.events("restarting pipeline after backoff")
    assert function.process.poll() is None

    function.process.send_signal(signal.SIGHUP)  # the way to run it again, config unchanged
    wait_until(lambda: len(starts(marker)) == 2, "SIGHUP to start the pipeline again")
    assert function.events("config loaded")[-1]["trigger"] == "SIGHUP"


def test_a_pipeline_that_exits_at_once_is_restarted_with_growing_backoff(
    video: LocalVideo, marker: Path
) -> None:
    function = video.start("fn", None)
    script = f"open({str(marker)!r}, 'a').write('start 0\\n'); raise SystemExit(3)"
    write_config(function, [sys.executable, "-c", script])
    wait_until(lambda: len(starts(marker)) >= 4, "four starts")
    delays = [e["retry_in"] for e in function.events("restarting pipeline after backoff")]
    assert delays[:3] == [0.5, 1.0, 2.0]
    assert {e["exit_code"] for e in function.events("pipeline exited")} == {3}
    assert function.process.poll() is None
    # A good config ends the crash loop at once, whatever the backoff says.
    good = marker.with_name("good.log")
    write_config(function, pipeline_command(good))
    wait_until(lambda: starts(good), "the good pipeline to start")


def test_a_missing_program_is_retried_not_fatal(video: LocalVideo, marker: Path) -> None:
    function = video.start("fn", None)
    write_config(function, ["kasugai-no-such-program"])
    wait_until(lambda: len(function.events("pipeline failed to start")) >= 2, "two failed attempts")
    assert "No such file" in function.events("pipeline failed to start")[0]["error"]
    assert function.stop() == 0


def test_no_zombies_and_no_leftovers_when_a_pipeline_dies(
    video: LocalVideo, tmp_path: Path
) -> None:
    function = video.start("fn", None)
    pids = tmp_path / "pids"
    # The leader starts a child in its own group, one in a session of its own (out of reach of
    # the group signal: the wrapper must reap it when it ends), then dies.
    script = f"sleep 30 & echo $! >> {pids}; setsid sleep 1 & echo $! >> {pids}; exit 7"
    write_config(function, ["bash", "-c", script])
    wait_until(lambda: function.events("pipeline exited"), "the pipeline to exit")
    wait_until(lambda: pids.exists() and len(pids.read_text().split()) >= 2, "the child pids")
    group_child, session_child = (int(p) for p in pids.read_text().split()[:2])
    wait_until(lambda: not alive(group_child), "the leftover in the group to be killed")
    wait_until(
        lambda: any(e["pid"] == session_child for e in function.events("reaped descendant")),
        "the escaped grandchild to be reaped by the wrapper",
    )
    assert zombies(function.process.pid) == []
    assert function.stop() == 0


def test_sigterm_during_backoff_exits_promptly(video: LocalVideo) -> None:
    function = video.start("fn", None)
    write_config(function, ["false"])
    wait_until(lambda: function.events("restarting pipeline after backoff"), "a restart delay")
    assert function.stop() == 0


def test_a_sighup_right_after_the_template_appears_does_not_kill_it(video: LocalVideo) -> None:
    # The sidecar renders and signals as soon as it sees the template the wrapper installs.
    function = video.start("fn", "relay")
    template = function.config_dir / "config.yaml.tmpl"
    wait_until(template.exists, "the template")
    function.process.send_signal(signal.SIGHUP)
    wait_until(lambda: function.events("waiting for config"), "the wrapper to start up")
    assert function.process.poll() is None
    assert function.stop() == 0


def test_hostile_configs_keep_the_pipeline_and_are_never_quoted(
    video: LocalVideo, marker: Path
) -> None:
    function = running_wrapper(video, marker)
    (pid,) = starts(marker)
    hostile = [hostile_bytes(text) for text in (*YAML_TEXTS.values(), *JSON_TEXTS.values())]
    hostile += [
        json.dumps({"command": ["gst-launch-1.0", f"host={MARKER}"]}).encode(),
        json.dumps({"command": ["x", {"a": MARKER}]}).encode(),
        b"command: [x]\n" + b"#" * bounded.VALUE.max_bytes,
        b"\xff" + MARKER.encode(),
    ]
    for number, content in enumerate(hostile, start=1):
        tmp = function.config_path.with_name(".config.yaml.tmp")
        tmp.write_bytes(content)
        os.replace(tmp, function.config_path)
        function.process.send_signal(signal.SIGHUP)
        wait_until(
            lambda n=number: len(function.events("config rejected")) >= n, f"rejection {number}"
        )
    assert all(
        e["keeps_running"] == pipeline_command(marker) for e in function.events("config rejected")
    )
    assert function.process.poll() is None
    assert alive(pid)
    assert starts(marker) == [pid]
    log = function.log_path.read_text(errors="replace")
    assert MARKER not in log
    assert "Traceback" not in log
