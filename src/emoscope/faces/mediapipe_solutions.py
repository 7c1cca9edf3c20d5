"""MediaPipe solutions (``mp.solutions``: face detection, face mesh, hands) as emoscope runs them:
imported and started without their console noise, fed BGR frames, landmarks returned in pixels."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from collections.abc import Callable

import numpy as np


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


class SolutionRunner:
    """One MediaPipe graph fed BGR frames, its native log silenced while it warms up.

    ``make_solution(mp)`` builds the graph (an ``mp.solutions`` object) from the ``mediapipe``
    module; ``findings`` names the result field that lists what a frame found (``"detections"``,
    ``"multi_face_landmarks"``...): warm-up ends after a few frames found something.
    """

    def __init__(self, make_solution: Callable, findings: str, streams: dict | None = None):
        """``streams``: the graph's inputs besides its image (called ``image``), for its first frame."""
        mp = import_mediapipe()
        self._streams = streams
        self._findings = findings
        with native_stderr_silenced():
            self._solution = make_solution(mp)
            self._start()

    def _start(self) -> None:
        """Runs the freshly started graph once on a blank frame (to be called silenced): its models are
        loaded, and log, on threads of their own, which only a first frame waits for."""
        blank = np.zeros((64, 64, 3), np.uint8)
        self._solution.process(blank if self._streams is None else {"image": blank} | self._streams)
        self._warmup = WarmupSilencer()

    def process(self, image_bgr: np.ndarray, streams: dict | None = None):
        """MediaPipe's result for one uint8 HxWx3 BGR frame; ``streams``: the graph's other inputs by name
        (its image input is then called ``image``)."""
        import cv2

        image = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        with self._warmup():
            result = self._solution.process(image if streams is None else {"image": image} | streams)
        self._warmup.record(bool(getattr(result, self._findings)))
        return result

    def reset(self) -> None:
        """Forget what the graph tracked: the next frame starts afresh, as the first one did.

        MediaPipe resets a graph by closing it and starting it again, which loads its models again."""
        with native_stderr_silenced():
            self._solution.reset()
            self._start()

    def close(self) -> None:
        self._solution.close()


_SERIALIZED_LANDMARK = np.dtype([("tags", "u1", 3), ("x", "<f4"), ("y_tag", "u1"), ("y", "<f4"),
                                 ("z_tag", "u1"), ("z", "<f4")])
"""One landmark of a serialized ``NormalizedLandmarkList`` holding only x, y and z: the list's field tag
(0x0a), the landmark's length (15), then each float's tag (0x0d, 0x15, 0x1d) and its four bytes."""
_EXPECTED_TAGS = (np.array([0x0A, 0x0F, 0x0D], np.uint8), 0x15, 0x1D)


def landmark_pixels(landmarks, width: int, height: int) -> np.ndarray:
    """A normalised landmark list as ``(K, 3)`` float32: x, y in pixels, z (depth, smaller = nearer)
    in the same scale as x.

    Read from the list's serialized bytes in one go where every landmark holds just x, y and z (the face
    mesh's 478, the hands' 21): reading 478 x 3 fields one by one in Python took 0.4 ms a frame and held
    the GIL, stalling the loop's other threads. Any other layout is read field by field."""
    raw = np.frombuffer(landmarks.SerializeToString(), np.uint8)
    count = len(landmarks.landmark)
    if count and raw.size == count * _SERIALIZED_LANDMARK.itemsize:
        fields = raw.view(_SERIALIZED_LANDMARK)
        tags, y_tag, z_tag = _EXPECTED_TAGS
        if (fields["tags"] == tags).all() and (fields["y_tag"] == y_tag).all() and (fields["z_tag"] == z_tag).all():
            # in float64 as Python multiplies, so the pixels are the same to the last bit
            scaled = [fields[axis].astype(np.float64) * scale
                      for axis, scale in (("x", width), ("y", height), ("z", width))]
            return np.stack(scaled, axis=1).astype(np.float32)
    return np.array([(p.x * width, p.y * height, p.z * width) for p in landmarks.landmark], dtype=np.float32)
