"""Video chains of real wrappers running real GStreamer on loopback: relay, inference, receiver.

Clips are sent at their real-time rate with the contract's sender pipeline. A receiver's MP4 only
becomes valid once its wrapper is told to stop (SIGTERM; the wrapper sends gst-launch SIGINT, which
makes end-of-stream), so every test stops the receivers before it looks at what they wrote.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from kasugai_functions.video.clips import make_test_clip, read_clip_frames
from kasugai_functions.video.detector import DETECTORS, detect_boxes
from kasugai_functions.video.raw_frames import Frame
from kasugai_functions.video.testing import LocalVideo, VideoFunction

CLIP_FRAMES = 90  # pattern_clip: 3 s at 30 fps
RECEIVED_FILE = "rcv_video.mp4"


def start_chain(video: LocalVideo, *templates: str) -> list[VideoFunction]:
    """Start functions in chain order, each connected to the next, the last to nothing."""
    functions = [video.start(f"{i}-{t}", t) for i, t in enumerate(templates)]
    for function, after in zip(functions, [*functions[1:], None], strict=True):
        function.connect(after.host if after else None)
    for function in functions:
        function.wait_for(function.listening, "its pipeline to listen")
    return functions


def send(clip: Path, host: str) -> subprocess.Popen[bytes]:
    """``kasugai send-video CLIP --to HOST`` as a real process."""
    code = (
        "import sys; from kasugai_functions.video.sender import main; sys.exit(main(sys.argv[1:]))"
    )
    return subprocess.Popen([sys.executable, "-c", code, str(clip), "--to", host])


def received(receiver: VideoFunction) -> Path:
    return receiver.work_dir / RECEIVED_FILE


def stop_in_order(functions: list[VideoFunction]) -> None:
    """Stop functions upstream first, each once it has read all its input: nothing is lost."""
    for function in functions:
        function.drain()
        assert function.stop() == 0, f"{function.name} did not stop cleanly"


def assert_valid_mp4(path: Path) -> None:
    result = subprocess.run(["gst-discoverer-1.0", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "H.264" in result.stdout, result.stdout


def test_relay_to_receiver_delivers_a_valid_mp4(video: LocalVideo, pattern_clip: Path) -> None:
    chain = start_chain(video, "relay", "receiver")
    assert send(pattern_clip, chain[0].host).wait(120) == 0
    stop_in_order(chain)
    assert_valid_mp4(received(chain[-1]))
    assert len(read_clip_frames(received(chain[-1]))) >= 0.95 * CLIP_FRAMES


def test_a_receiver_stopped_with_sigint_keeps_its_mp4(
    video: LocalVideo, pattern_clip: Path
) -> None:
    """As the original's guide stops a receiver before copying its file: SIGINT to gst-launch,
    not to the wrapper. The wrapper must not start the pipeline again over the finished MP4."""
    relay, receiver = start_chain(video, "relay", "receiver")
    assert send(pattern_clip, relay.host).wait(120) == 0
    relay.drain()
    receiver.drain()
    pipeline = receiver.events("pipeline started")[-1]["pid"]
    os.killpg(pipeline, signal.SIGINT)
    receiver.wait_for(lambda: receiver.events("pipeline finished"), "the pipeline to finish")
    time.sleep(2)  # the window a restart would truncate the file in (backoff 0.5 s)
    assert len(receiver.events("pipeline started")) == 1
    assert_valid_mp4(received(receiver))
    assert len(read_clip_frames(received(receiver))) >= 0.95 * CLIP_FRAMES


def test_relay_inference_receiver_delivers_every_frame(
    video: LocalVideo, pattern_clip: Path
) -> None:
    chain = start_chain(video, "relay", "inference", "receiver")
    assert send(pattern_clip, chain[0].host).wait(120) == 0
    stop_in_order(chain)
    assert_valid_mp4(received(chain[-1]))
    assert len(read_clip_frames(received(chain[-1]))) >= 0.95 * CLIP_FRAMES
    (summary,) = chain[1].events("inference summary")
    assert summary["frames"] >= 0.95 * CLIP_FRAMES
    assert summary["detection_runs"] > 0


def box_green(frame: Frame) -> np.ndarray:
    """Where a frame shows the box colour (pure green, give or take H.264's rounding)."""
    b, g, r = (frame[..., i].astype(int) for i in range(3))
    return (g > 170) & (r < 110) & (b < 110)


def test_inference_draws_boxes_around_the_face_in_a_real_photo(
    video: LocalVideo, astronaut_clip: Path
) -> None:
    sent = read_clip_frames(astronaut_clip)
    ((x, y, w, h),) = detect_boxes(DETECTORS["face"](), sent[0].copy())
    assert not box_green(sent[0]).any(), "the photo itself must not show the box colour"
    chain = start_chain(video, "relay", "inference", "receiver")
    assert send(astronaut_clip, chain[0].host).wait(120) == 0
    stop_in_order(chain)
    (summary,) = chain[1].events("inference summary")
    assert summary["objects"] > 0
    out = read_clip_frames(received(chain[-1]))
    green = box_green(out[-1])
    assert green.sum() > 2 * (w + h), "no box drawn"  # at least a thin outline's worth
    # Every box pixel lies on the outline of the face the detector finds in the photo.
    near = np.zeros_like(green)
    margin = 10
    near[max(y - margin, 0) : y + h + margin, max(x - margin, 0) : x + w + margin] = True
    near[y + margin : y + h - margin, x + margin : x + w - margin] = False
    assert green[near].sum() >= 0.95 * green.sum()


def receiving(receiver: VideoFunction) -> bool:
    """Whether H.264 has reached the receiver's muxer (gst-launch -v prints its caps then)."""
    return "GstMP4Mux:mp4mux0.GstQTMuxPad:video_0: caps" in receiver.log_path.read_text()


def test_rewiring_a_relay_moves_the_stream_to_the_new_receiver(
    video: LocalVideo, tmp_path: Path
) -> None:
    clip = make_test_clip(tmp_path / "long.mp4", seconds=10)
    relay, first = start_chain(video, "relay", "receiver")
    (second,) = start_chain(video, "receiver")
    sender = send(clip, relay.host)
    first.wait_for(lambda: receiving(first), "the stream to arrive")
    relay.connect(second.host)  # what the sidecar does when the next hop's address changes
    second.wait_for(lambda: receiving(second), "the stream to arrive after the rewiring")
    assert sender.wait(120) == 0
    stop_in_order([relay, first, second])
    assert second.host in relay.events("pipeline started")[-1]["command"][-1]
    counts = []
    for receiver in (first, second):
        assert_valid_mp4(received(receiver))
        counts.append(len(read_clip_frames(received(receiver))))
    assert all(counts), counts
    assert sum(counts) <= 300  # no frame went to both
