"""Object detection on the CPU with the models that ship inside OpenCV's wheel.

``face`` is the frontal-face Haar cascade (``cv2.data.haarcascades``), ``people`` the HOG
pedestrian detector; neither downloads anything. Detection runs on a half-size grey image in a
background thread on the newest frame only, while every frame passes through with the newest
boxes drawn: a slow detector lowers the detection rate, never the frame rate.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import attrs
import cv2

from kasugai_functions.video.raw_frames import Frame

BOX_COLOUR_BGR = (0, 255, 0)
BOX_THICKNESS = 3
_SCALE = 0.5  # detect on a half-size image: four times less work, faces still 15+ pixels

Box = tuple[int, int, int, int]  # x, y, width, height in full-frame pixels
DetectFn = Callable[[Frame], list[Box]]  # small grey image in, full-frame boxes out


def _face_detector() -> DetectFn:
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    if cascade.empty():
        raise RuntimeError(f"OpenCV's face cascade is missing under {cv2.data.haarcascades}")

    def detect(grey: Frame) -> list[Box]:
        found = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(15, 15))
        return _full_size(found)

    return detect


def _people_detector() -> DetectFn:
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def detect(grey: Frame) -> list[Box]:
        found, _weights = hog.detectMultiScale(grey, winStride=(8, 8))
        return _full_size(found)

    return detect


def _full_size(found: Sequence[Sequence[int]]) -> list[Box]:
    """Boxes found on the small image, in the full frame's pixels."""
    return [(x, y, w, h) for x, y, w, h in (tuple(round(v / _SCALE) for v in b) for b in found)]


DETECTORS: dict[str, Callable[[], DetectFn]] = {"face": _face_detector, "people": _people_detector}


def small_grey(frame: Frame) -> Frame:
    """The image the detectors look at: grey, half size."""
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, None, fx=_SCALE, fy=_SCALE, interpolation=cv2.INTER_AREA)  # type: ignore[return-value]


def detect_boxes(detect: DetectFn, frame: Frame) -> list[Box]:
    """Run ``detect`` on ``frame`` at once (what the background thread does, for one frame)."""
    return detect(small_grey(frame))


def draw_boxes(frame: Frame, boxes: list[Box]) -> None:
    for x, y, w, h in boxes:
        cv2.rectangle(frame, (x, y), (x + w, y + h), BOX_COLOUR_BGR, BOX_THICKNESS)


@attrs.define
class DetectionCounts:
    runs: int = 0  # detector passes completed
    objects: int = 0  # boxes found over all passes
    runs_with_objects: int = 0


class BackgroundDetector:
    """Detects on the newest submitted frame in a thread; ``boxes`` is the newest result."""

    def __init__(self, detect: DetectFn) -> None:
        self._detect = detect
        self._lock = threading.Condition()
        self._pending: Frame | None = None
        self._closed = False
        self._boxes: list[Box] = []
        self._failure: BaseException | None = None
        self.counts = DetectionCounts()
        self._thread = threading.Thread(target=self._loop, name="detector", daemon=True)
        self._thread.start()

    def submit(self, frame: Frame) -> None:
        """Offer a frame; replaces any frame not yet picked up (only the newest matters)."""
        grey = small_grey(frame)
        with self._lock:
            self._pending = grey
            self._lock.notify()

    @property
    def boxes(self) -> list[Box]:
        """The newest boxes; raises if the detector thread has failed."""
        with self._lock:
            if self._failure is not None:
                raise RuntimeError("the detector failed") from self._failure
            return self._boxes

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._pending is not None or self._closed)
                if self._closed:
                    return
                grey, self._pending = self._pending, None
            try:
                boxes = self._detect(grey)  # type: ignore[arg-type]
            except Exception as exc:  # handed to the frame loop, which stops on it
                with self._lock:
                    self._failure = exc
                return
            with self._lock:
                self._boxes = boxes
                self.counts.runs += 1
                self.counts.objects += len(boxes)
                self.counts.runs_with_objects += bool(boxes)
