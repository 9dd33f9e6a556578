"""``kasugai-infer``: the CPU inference function of the video chain.

It receives RTP/H.264 on UDP 5678 like every hop, decodes it with one gst-launch process, detects
objects with OpenCV, draws boxes, and re-encodes and sends RTP to the next hop with a second
gst-launch process; raw BGR frames travel through pipes in between. The next hop comes from the
command line (the wrapper runs it from the rendered template and restarts it to rewire).

On SIGINT or SIGTERM it stops the decoder with SIGINT (end-of-stream), passes on every frame still
in flight, closes the encoder's input so that it sends its last frames, and logs a summary of the
detection counts.

/metrics (``kasugai_functions.metrics_endpoint``) counts the frames read from the decoder and the
frames handed to the encoder, and times each frame from read to hand-over (detection hand-off,
drawing, the pipe write): what this process sees, not the network or the codecs.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import time
from collections.abc import Sequence
from types import FrameType

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram

from kasugai.runtime_env import configure_logging, listen_host
from kasugai_functions.metrics_endpoint import serve_metrics
from kasugai_functions.video import gst
from kasugai_functions.video.addresses import AddressError, validate_ip, validate_port
from kasugai_functions.video.detector import DETECTORS, BackgroundDetector, draw_boxes
from kasugai_functions.video.raw_frames import read_frame, start_frame_source

ENCODER_EXIT_SECONDS = 10.0

log = structlog.get_logger("kasugai.infer")


class FrameMetrics:
    """The video function metrics (names shared by every video function), in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.frames_in = Counter(
            "kasugai_video_frames_in", "Decoded frames received", registry=self.registry
        )
        self.frames_out = Counter(
            "kasugai_video_frames_out", "Frames handed to the encoder", registry=self.registry
        )
        self.latency = Histogram(
            "kasugai_video_frame_latency_seconds",
            "From a decoded frame read to its hand-over to the encoder",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kasugai-infer",
        description="Detect objects in an RTP/H.264 stream, draw boxes, send it to the next hop.",
    )
    parser.add_argument("--to", required=True, metavar="ADDRESS", help="next hop's IP address")
    parser.add_argument("--to-port", default=str(gst.RTP_PORT), metavar="PORT")
    parser.add_argument(
        "--listen", metavar="ADDRESS", help="address to receive on (default $KASUGAI_POD_IP)"
    )
    parser.add_argument("--port", default=str(gst.RTP_PORT), help="UDP port to receive on")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=int, default=30, help="frame rate of the output stream")
    parser.add_argument("--bitrate", type=int, default=2000, help="output bitrate, kbit/s")
    parser.add_argument("--detector", choices=sorted(DETECTORS), default="face")
    parser.add_argument(
        "--report-every", type=int, default=30, metavar="N", help="log counts every N frames"
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="port of /metrics, 0 for none (default $KASUGAI_METRICS_PORT, else 9464)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    configure_logging()
    try:
        to = validate_ip(args.to, "--to")
        to_port = validate_port(args.to_port, "--to-port")
        listen = validate_ip(args.listen or listen_host(), "--listen")
        port = validate_port(args.port, "--port")
    except AddressError as exc:
        parser.error(str(exc))
    if args.width <= 0 or args.height <= 0 or args.width % 2 or args.height % 2:
        parser.error("--width and --height must be positive even numbers (H.264 needs them)")
    if args.metrics_port is not None and not 0 <= args.metrics_port <= 65535:
        parser.error("--metrics-port: expected a port from 1 to 65535, or 0 to turn /metrics off")
    metrics = FrameMetrics()
    metrics_server = serve_metrics(metrics.registry, listen, args.metrics_port)
    detect = DETECTORS[args.detector]()
    log.info("starting", listen=f"{listen}:{port}", to=f"{to}:{to_port}", detector=args.detector)
    decoder, frames_in = start_frame_source(
        lambda fd: gst.rtp_decoder(listen, port, args.width, args.height, fd)
    )
    # The encoder gets a session of its own, so that a SIGINT to this process group (from the
    # wrapper or a terminal) does not end it before the frames in flight are through. It cannot
    # outlive this process: its input is our pipe, and end of input is end of stream.
    encoder = subprocess.Popen(
        gst.rtp_encoder(to, to_port, args.width, args.height, args.fps, args.bitrate),
        stdin=subprocess.PIPE,
        start_new_session=True,
    )
    assert encoder.stdin is not None
    stopping = False

    def stop_input(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        log.info("stopping: end of stream requested", signal=signal.Signals(signum).name)
        decoder.send_signal(signal.SIGINT)

    signal.signal(signal.SIGINT, stop_input)
    signal.signal(signal.SIGTERM, stop_input)

    detector = BackgroundDetector(detect)
    frames = 0
    window_start = 0.0
    try:
        with frames_in:
            while (frame := read_frame(frames_in, args.width, args.height)) is not None:
                received = time.perf_counter()
                metrics.frames_in.inc()
                if frames == 0:
                    window_start = time.monotonic()  # rates count from the first frame
                frame = frame.copy()
                detector.submit(frame)
                draw_boxes(frame, detector.boxes)
                encoder.stdin.write(frame.data)
                metrics.frames_out.inc()
                metrics.latency.observe(time.perf_counter() - received)
                frames += 1
                if frames % args.report_every == 0:
                    now = time.monotonic()
                    fps = args.report_every / (now - window_start)
                    window_start = now
                    _log_counts("inference progress", detector, frames, fps=round(fps, 1))
    except BrokenPipeError:
        log.error("the encoder stopped taking frames", exit_code=encoder.wait())
        decoder.send_signal(signal.SIGINT)
        decoder.wait()
        return 1
    finally:
        detector.close()
        if metrics_server is not None:
            metrics_server.stop()
    encoder.stdin.close()
    encoder_code = _wait(encoder, "encoder")
    decoder_code = decoder.wait()
    _log_counts("inference summary", detector, frames)
    if not stopping:
        log.error("the input stream ended by itself", decoder_exit_code=decoder_code)
        return 1
    return 0 if encoder_code == 0 else 1


def _log_counts(event: str, detector: BackgroundDetector, frames: int, **extra: object) -> None:
    counts = detector.counts
    log.info(
        event,
        frames=frames,
        detection_runs=counts.runs,
        objects=counts.objects,
        runs_with_objects=counts.runs_with_objects,
        **extra,
    )


def _wait(process: subprocess.Popen[bytes], name: str) -> int:
    try:
        return process.wait(ENCODER_EXIT_SECONDS)
    except subprocess.TimeoutExpired:
        log.error(f"the {name} did not finish; killing it", pid=process.pid)
        process.kill()
        return process.wait()
