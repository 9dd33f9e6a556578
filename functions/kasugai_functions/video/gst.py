"""The gst-launch-1.0 command lines of the video chain, built as argv lists (no shell).

Each element property is its own argv word with no spaces in it: gst-launch escapes the spaces of
each word, so spaced caps would not parse. Every address has been validated by the caller
(``addresses``) before it gets here.
"""

from __future__ import annotations

from pathlib import Path

GST_LAUNCH = "gst-launch-1.0"
RTP_PORT = 5678
# The contract's caps for every hop (docs/compatibility.md section 11).
RTP_H264_CAPS = "application/x-rtp,media=video,encoding-name=H264,clock-rate=90000,payload=96"
UDPSRC_BUFFER_SIZE = 21299100


def _x264(fps: int, bitrate_kbps: int) -> list[str]:
    # Low latency: no B-frames or lookahead, a keyframe every second so a receiver that joins
    # (or is rewired) mid-stream can start decoding within a second.
    return [
        "x264enc",
        "tune=zerolatency",
        "speed-preset=ultrafast",
        f"key-int-max={fps}",
        f"bitrate={bitrate_kbps}",
    ]


def rtp_decoder(address: str, port: int, width: int, height: int, out_fd: int) -> list[str]:
    """Receive RTP/H.264 and write raw BGR frames of width x height to file descriptor out_fd."""
    return [
        *(GST_LAUNCH, "-e", "udpsrc", f"address={address}", f"port={port}"),
        f"buffer-size={UDPSRC_BUFFER_SIZE}",
        *("!", RTP_H264_CAPS, "!", "rtph264depay", "!", "h264parse", "!", "avdec_h264"),
        *("!", "videoconvert", "!", "videoscale", "!"),
        f"video/x-raw,format=BGR,width={width},height={height},pixel-aspect-ratio=1/1",
        *("!", "fdsink", f"fd={out_fd}", "sync=false"),
    ]


def rtp_encoder(
    host: str, port: int, width: int, height: int, fps: int, bitrate_kbps: int
) -> list[str]:
    """Read raw BGR frames on stdin, encode H.264 and send RTP to host:port."""
    return [
        *(GST_LAUNCH, "-e", "fdsrc", "fd=0", "!", "rawvideoparse"),
        *(f"width={width}", f"height={height}", "format=bgr", f"framerate={fps}/1"),
        *("!", "videoconvert", "!", "video/x-raw,format=I420", "!", *_x264(fps, bitrate_kbps)),
        *("!", "rtph264pay", "config-interval=-1", "pt=96"),
        *("!", "udpsink", f"host={host}", f"port={port}", "sync=false"),
    ]


def mp4_sender(path: Path, host: str, port: int) -> list[str]:
    """The contract's sender: stream an MP4's H.264 track as RTP at its real-time rate."""
    return [
        *(GST_LAUNCH, "filesrc", f"location={path}", "!", "qtdemux", "!", "video/x-h264"),
        *("!", "h264parse", "!", "rtph264pay", "config-interval=-1", "seqnum-offset=1"),
        *("!", "udpsink", f"host={host}", f"port={port}"),
    ]


def clip_encoder(
    path: Path, frames: int, width: int, height: int, fps: int, image: Path | None
) -> list[str]:
    """Encode a short H.264 MP4: a still image (letterboxed) or the moving test pattern."""
    size = f"video/x-raw,format=I420,width={width},height={height},pixel-aspect-ratio=1/1"
    if image is None:
        moving = ["videotestsrc", f"num-buffers={frames}", "pattern=ball"]
        source = [*moving, "!", f"{size},framerate={fps}/1"]
    else:
        source = [
            *("filesrc", f"location={image}", "!", "decodebin", "!", "videoconvert"),
            *("!", "videoscale", "!", size, "!", "imagefreeze", f"num-buffers={frames}"),
            *("!", f"video/x-raw,framerate={fps}/1"),
        ]
    return [
        *(GST_LAUNCH, "-q", *source, "!", *_x264(fps, 2000), "!", "h264parse", "!", "mp4mux"),
        *("!", "filesink", f"location={path}"),
    ]


def clip_decoder(path: Path, width: int, height: int, out_fd: int) -> list[str]:
    """Decode an MP4's video to raw BGR frames of width x height on file descriptor out_fd."""
    return [
        *(GST_LAUNCH, "-q", "filesrc", f"location={path}", "!", "qtdemux", "!", "h264parse"),
        *("!", "avdec_h264", "!", "videoconvert", "!", "videoscale", "!"),
        f"video/x-raw,format=BGR,width={width},height={height},pixel-aspect-ratio=1/1",
        *("!", "fdsink", f"fd={out_fd}", "sync=false"),
    ]
