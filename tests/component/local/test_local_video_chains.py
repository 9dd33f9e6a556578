"""Video chains with CPU inference under ``kasugai up``: every frame through, boxes on a real
face, and a chain edit during a stream.

Clips go in with ``kasugai send-video`` to the entry Service's address from the runtime's
snapshot, as a user would send them. The receiver's MP4 is only valid after end-of-stream, so it
is read after ``kasugai down`` (the receiver's wrapper turns SIGTERM into SIGINT for gst-launch
``-e``); the Pods' logs are read from the paths the snapshot gave while they ran.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml
from kasugai_functions.video.clips import make_test_clip, read_clip_frames
from kasugai_functions.video.detector import DETECTORS, detect_boxes
from kasugai_functions.video.raw_frames import Frame
from kasugai_functions.video.testing import udp_backlog, udp_port_free
from local_samples import REPO, StartRun
from skimage import data

from kasugai.adapters.local.processes import group_alive
from kasugai.adapters.local.testing import KASUGAI, LocalRun, read_events, wait_until
from kasugai.atomic_files import write_atomically

NAMESPACE = "cpufunc-sample"
FPS = 30
CHAIN_FILE = "functionchain.yaml"


# --- running a video sample -----------------------------------------------------------------


def start_sample(start_run: StartRun, name: str, tmp_path: Path) -> LocalRun:
    sample = Path(shutil.copytree(REPO / "manifests" / "samples" / name, tmp_path / name))
    return start_run(sample)


def entry_address(run: LocalRun, dataflow: str, function: str) -> str:
    """The address of the Service in front of ``function``: where a user sends the stream."""
    name = f"{dataflow}-wbfunction-{function}-service"
    (address,) = [s["address"] for s in run.snapshot()["services"] if s["name"] == name]
    return str(address)


def pipeline_starts(pod: dict[str, Any]) -> list[dict[str, Any]]:
    """What the Pod's wrapper logged each time it started its pipeline (command, PID)."""
    events = read_events(pod["containers"][0]["log"])
    return [e for e in events if e.get("event") == "pipeline started"]


def newest_pipeline(pod: dict[str, Any]) -> list[str]:
    """The words of the command line the Pod's wrapper started last ([] before the first)."""
    started = pipeline_starts(pod)
    return " ".join(started[-1]["command"]).split() if started else []


def sends_to(pod: dict[str, Any], address: str | None) -> bool:
    """Whether the Pod's newest pipeline sends to ``address`` (None: the receiver's, to a file)."""
    words = newest_pipeline(pod)
    if address is None:
        return "location=rcv_video.mp4" in words
    inference_target = words[words.index("--to") + 1] if "--to" in words else None
    return f"host={address}" in words or inference_target == address


def wait_wired(run: LocalRun, chain: list[str]) -> dict[str, dict[str, Any]]:
    """Until each function in ``chain`` runs a pipeline to its successor and listens; the Pods."""
    pods = run.pods()
    hops = [pods[f]["address"] for f in chain[1:]] + [None]
    for function, after in zip(chain, hops, strict=True):
        pod = pods[function]
        wait_until(lambda p=pod, a=after: sends_to(p, a), f"{function}'s pipeline to {after}")
        wait_until(lambda p=pod: not udp_port_free(p["address"]), f"{function} to listen")
    return pods


def drain(pods: list[dict[str, Any]]) -> None:
    """Until every Pod's pipeline has read all the datagrams sent to it, upstream first."""
    for pod in pods:
        wait_until(lambda p=pod: udp_backlog(p["address"]) == 0, f"{pod['name']} to read it all")


def send(clip: Path, address: str) -> None:
    sent = subprocess.run(
        [*KASUGAI, "send-video", str(clip), "--to", address], capture_output=True, timeout=120
    )
    assert sent.returncode == 0, sent.stderr.decode(errors="replace")


def inference_events(pod: dict[str, Any], event: str) -> list[dict[str, Any]]:
    return [e for e in read_events(pod["containers"][0]["log"]) if e.get("event") == event]


def frames_inferred(pod: dict[str, Any]) -> int:
    """Frames the inference function has passed on, as of its newest progress line."""
    progress = inference_events(pod, "inference progress")
    return int(progress[-1]["frames"]) if progress else 0


def received(run: LocalRun, receiver: dict[str, Any]) -> list[Frame]:
    """The frames of the receiver's MP4, after checking that it is a valid H.264 MP4."""
    mp4 = run.state.pod_dir(NAMESPACE, receiver["name"]) / "work" / "rcv_video.mp4"
    found = subprocess.run(["gst-discoverer-1.0", str(mp4)], capture_output=True, text=True)
    assert found.returncode == 0 and "H.264" in found.stdout, found.stdout + found.stderr
    return read_clip_frames(mp4)


def down(run: LocalRun) -> None:
    stopped = run.down()
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert run.leftovers() == []


def through_p2c1(
    start_run: StartRun, tmp_path: Path, clip: Path
) -> tuple[list[Frame], dict[str, Any]]:
    """Send ``clip`` through video-p2c1, stop; the received frames and the inference summary."""
    run = start_sample(start_run, "video-p2c1", tmp_path)
    chain = ["pip", "infer", "rcv"]
    pods = wait_wired(run, chain)
    send(clip, entry_address(run, "df-cpu-p2c1", "pip"))
    drain([pods[f] for f in chain])
    down(run)
    (summary,) = inference_events(pods["infer"], "inference summary")
    return received(run, pods["rcv"]), summary


# --- 1. every frame through relay, inference and receiver --------------------------------------


def test_p2c1_delivers_every_frame_through_the_inference(
    gstreamer: None, start_run: StartRun, tmp_path: Path
) -> None:
    seconds = 4
    clip = make_test_clip(tmp_path / "pattern.mp4", seconds=seconds, fps=FPS)
    frames, summary = through_p2c1(start_run, tmp_path, clip)
    assert len(frames) >= 0.95 * seconds * FPS
    assert summary["frames"] >= 0.95 * seconds * FPS
    assert summary["detection_runs"] > 0


# --- 2. boxes around the face in a real photo --------------------------------------------------


def box_green(frame: Frame) -> np.ndarray:
    """Where a frame shows the box colour (pure green, give or take H.264's rounding)."""
    b, g, r = (frame[..., i].astype(int) for i in range(3))
    return (g > 170) & (r < 110) & (b < 110)


def test_p2c1_draws_boxes_around_the_face_in_a_real_photo(
    gstreamer: None, start_run: StartRun, tmp_path: Path
) -> None:
    photo = tmp_path / "astronaut.png"
    assert cv2.imwrite(str(photo), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    clip = make_test_clip(tmp_path / "astronaut.mp4", seconds=2, fps=FPS, image=photo)
    sent = read_clip_frames(clip)[-1]
    assert not box_green(sent).any(), "the photo itself must not show the box colour"
    ((x, y, w, h),) = detect_boxes(DETECTORS["face"](), sent.copy())

    frames, summary = through_p2c1(start_run, tmp_path, clip)
    assert summary["objects"] > 0 and summary["runs_with_objects"] > 0
    green = box_green(frames[-1])
    assert green.sum() > 2 * (w + h), "no box drawn"  # at least a thin outline's worth
    # The box pixels lie on the outline of the face the detector finds in the photo.
    margin = 10
    outline = np.zeros_like(green)
    outline[max(y - margin, 0) : y + h + margin, max(x - margin, 0) : x + w + margin] = True
    outline[y + margin : y + h - margin, x + margin : x + w - margin] = False
    assert green[outline].sum() >= 0.95 * green.sum()


# --- 3. a chain edit during a stream -----------------------------------------------------------


class Stream:
    """``kasugai send-video`` of one short clip after another until stopped: a live source."""

    def __init__(self, clip: Path, address: str) -> None:
        self._argv = [*KASUGAI, "send-video", str(clip), "--to", address]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._sender: subprocess.Popen[bytes] | None = None
        self.failures: list[str] = []

    def __enter__(self) -> Stream:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stopping.is_set():
            # A session of its own: the teardown kills the sender and its gst-launch together.
            self._sender = subprocess.Popen(
                self._argv,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            _, stderr = self._sender.communicate()
            if self._sender.returncode != 0:
                self.failures.append(stderr.decode(errors="replace"))

    def stop(self) -> None:
        """Let the clip being sent finish, then send no more."""
        self._stopping.set()
        self._thread.join(timeout=120)
        assert not self._thread.is_alive(), "the sender did not finish its clip"
        assert not self.failures, self.failures

    def __exit__(self, *_exc: object) -> None:
        """Kill the clip being sent, if any (a test that failed mid-stream), and the loop."""
        self._stopping.set()
        self._kill_sender()
        self._thread.join(timeout=120)
        self._kill_sender()  # one the loop may have started just before it saw the stop

    def _kill_sender(self) -> None:
        if self._sender is not None and self._sender.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._sender.pid, signal.SIGKILL)


def skip_pipbr(sample: Path) -> None:
    """Edit the FunctionChain to pip -> infer -> rcv, replacing the file in one step."""
    chain = yaml.safe_load((sample / CHAIN_FILE).read_text())
    spec = chain["spec"]
    del spec["functions"]["pipbr"]
    spec["connections"] = [c for c in spec["connections"] if c["to"]["functionKey"] != "pipbr"]
    for connection in spec["connections"]:
        if connection["from"]["functionKey"] == "pipbr":
            connection["from"]["functionKey"] = "pip"
    write_atomically(sample / CHAIN_FILE, yaml.safe_dump(chain, sort_keys=False))


def test_p2c4_chain_edit_during_a_stream_moves_the_frames_and_keeps_the_others_running(
    gstreamer: None, start_run: StartRun, tmp_path: Path
) -> None:
    clip = make_test_clip(tmp_path / "pattern.mp4", seconds=2, fps=FPS)
    run = start_sample(start_run, "video-p2c4", tmp_path)
    pods = wait_wired(run, ["pip", "pipbr", "infer", "rcv"])
    untouched = run.pids(["pip", "infer", "rcv"])
    bridge = pods["pipbr"]
    bridge_groups = [c["pid"] for c in bridge["containers"]]

    with Stream(clip, entry_address(run, "df-cpu-p2c4", "pip")) as stream:
        wait_until(lambda: frames_inferred(pods["infer"]) >= FPS, "frames through pipbr")
        skip_pipbr(run.source)
        wait_until(lambda: "pipbr" not in run.pods(), "pipbr's Pod to be deleted")
        wait_until(lambda: udp_port_free(bridge["address"]), "pipbr's pipeline to stop")
        wait_until(
            lambda: not any(group_alive(pid) for pid in bridge_groups), "pipbr's containers to stop"
        )
        wait_until(lambda: sends_to(pods["pip"], pods["infer"]["address"]), "pip's new route")
        # Nothing else sends to infer now: whatever it passes on from here came from pip. A
        # progress line is logged every 30 frames, so 90 more mean 31+ frames after this point.
        before = frames_inferred(pods["infer"])
        wait_until(lambda: frames_inferred(pods["infer"]) >= before + 3 * FPS, "frames from pip")
        stream.stop()

    assert run.pids(["pip", "infer", "rcv"]) == untouched
    # pip's wrapper restarted its pipeline for the new route; the others' pipelines ran on.
    assert [len(pipeline_starts(pods[f])) for f in ("pip", "infer", "rcv")] == [2, 1, 1]
    status = run.dataflow_status("df-cpu-p2c4")
    assert status["status"] == "Deployed"
    assert [(c["from"], c["to"]) for c in status["connections"]] == [
        ("pip", "infer"),
        ("infer", "rcv"),
    ]
    drain([pods["pip"], pods["infer"], pods["rcv"]])
    down(run)
    (summary,) = inference_events(pods["infer"], "inference summary")
    # The inference ran on through the edit, and the receiver kept what it passed on.
    assert summary["frames"] >= before + 3 * FPS
    assert len(received(run, pods["rcv"])) >= 0.95 * summary["frames"]
