"""MediaPipe face detection (BlazeFace), short or full range, with its models bundled in the wheel."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading

import numpy as np

from emoscope.faces.detections import Detections
from emoscope.faces.detectors import BaseDetector


def import_mediapipe():
    """``mediapipe``, without the harmless protobuf GetPrototype error 0.10.21 prints at import."""
    with contextlib.redirect_stderr(io.StringIO()):
        import mediapipe

    return mediapipe


_silence_lock = threading.Lock()
_silence_depth = 0
_saved_stderr_fd: int | None = None


@contextlib.contextmanager
def native_stderr_silenced():
    """MediaPipe's C++ side logs INFO/WARNING lines straight to file descriptor 2 when a graph
    starts; Python's sys.stderr cannot catch those, so the descriptor itself is pointed away.

    Graphs warm up on several threads at once: the first thread in redirects and the last one out
    restores. (Each saving and restoring on its own, one thread could save another's redirection
    and "restore" it, losing stderr, and with it every error message, for good.)"""
    global _silence_depth, _saved_stderr_fd
    with _silence_lock:
        if _silence_depth == 0:
            sys.stderr.flush()
            _saved_stderr_fd = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        _silence_depth += 1
    try:
        yield
    finally:
        with _silence_lock:
            _silence_depth -= 1
            if _silence_depth == 0:
                sys.stderr.flush()
                os.dup2(_saved_stderr_fd, 2)
                os.close(_saved_stderr_fd)
                _saved_stderr_fd = None


def start_silently(make_solution):
    """``make_solution()`` (a ``mp.solutions`` object) built and run once on a blank frame with the
    native log silenced: a graph starts, and logs, on its first frame."""
    with native_stderr_silenced():
        solution = make_solution()
        solution.process(np.zeros((64, 64, 3), np.uint8))
    return solution


class WarmupSilencer:
    """``with warmup():`` around a graph's ``process``, then ``warmup.record(found_something)``.

    A graph logs when each of its models first runs, and a tracker's landmark model first runs on
    the first frame where something was found, which may be minutes into a video. So calls are
    silenced until ``frames`` of them have found something, and left alone after that."""

    def __init__(self, frames: int = 3):
        self.frames = frames
        self.productive = 0

    def __call__(self):
        return native_stderr_silenced() if self.productive < self.frames else contextlib.nullcontext()

    def record(self, found: bool) -> None:
        self.productive += bool(found)


MOUTH_HALF_WIDTH = 0.415
"""MediaPipe gives the mouth centre, not its corners: each corner is put this fraction of the
eye-to-eye vector to the side of the centre (mouth width / eye distance is about 0.83 in the
standard 5-point face template). An approximation, good enough for alignment and display."""


def to_five_points(six: np.ndarray) -> np.ndarray:
    """MediaPipe's ``(N, 6, 2)`` right eye, left eye, nose tip, mouth centre, right and left ear
    tragion -> ``(N, 5, 2)`` right eye, left eye, nose, mouth right, mouth left."""
    right_eye, left_eye, nose, mouth = six[:, 0], six[:, 1], six[:, 2], six[:, 3]
    half_mouth = MOUTH_HALF_WIDTH * (left_eye - right_eye)
    return np.stack([right_eye, left_eye, nose, mouth - half_mouth, mouth + half_mouth], axis=1)


class MediaPipeDetector(BaseDetector):
    """``full_range=False``: faces within ~2 m (128x128 model, fast); ``True``: within ~5 m."""

    def __init__(self, full_range: bool = False, min_score: float = 0.5, **kwargs):
        super().__init__(min_score, **kwargs)
        self.name = "mediapipe-full" if full_range else "mediapipe"
        mp = import_mediapipe()
        self._detector = start_silently(lambda: mp.solutions.face_detection.FaceDetection(
            model_selection=int(full_range), min_detection_confidence=min_score))
        self._warmup = WarmupSilencer()

    def _detect(self, image_bgr: np.ndarray) -> Detections:
        import cv2

        height, width = image_bgr.shape[:2]
        with self._warmup():
            found = self._detector.process(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)).detections or []
        self._warmup.record(bool(found))
        if not found:
            return Detections.empty()
        scale = np.array([width, height], dtype=np.float32)
        boxes, scores, keypoints = [], [], []
        for detection in found:
            box = detection.location_data.relative_bounding_box
            boxes.append((box.xmin, box.ymin, box.xmin + box.width, box.ymin + box.height))
            scores.append(detection.score[0])
            keypoints.append([(p.x, p.y) for p in detection.location_data.relative_keypoints])
        boxes = np.asarray(boxes, dtype=np.float32) * np.tile(scale, 2)
        six = np.asarray(keypoints, dtype=np.float32) * scale
        return Detections(boxes, np.asarray(scores, dtype=np.float32), to_five_points(six))

    def close(self) -> None:
        self._detector.close()
