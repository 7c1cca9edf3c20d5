"""``POST /v1/images:analyze``: every face of one photo, in the server's process (a photo takes
milliseconds; videos go to the worker processes). Models load once and stay; detectors are not
thread-safe, so each request borrows one from a small pool."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

from emoscope.errors import ModelError
from emoscope.faces import create_photo_detector, read_image
from emoscope.jobs.predict import FacePrediction, predict_faces
from emoscope.runtime.predictor import list_pretrained, shared_predictor


def check_model(name: str) -> str:
    """Only shipped models by name: a client never names a file on the server."""
    if name not in list_pretrained():
        raise ModelError(f"unknown model {name!r} (shipped: {', '.join(list_pretrained())})")
    return name


class ImageAnalyzer:
    def __init__(self, detectors: int = 2):
        self._lock = threading.Lock()
        self._detectors: queue.Queue = queue.Queue()
        self._size = detectors
        self._made = 0

    def _borrow(self):
        with self._lock:
            if self._detectors.empty() and self._made < self._size:
                self._made += 1
                return create_photo_detector()
        return self._detectors.get()

    def analyze(self, path: Path, model: str) -> tuple[tuple[int, int], list[FacePrediction], list[str]]:
        """((width, height), faces, classes); a file that is not a readable image is a DataError."""
        predictor = shared_predictor(check_model(model))
        image = read_image(path)
        detector = self._borrow()
        try:
            faces = predict_faces(image, predictor, detector)
        finally:
            self._detectors.put(detector)
        return (image.shape[1], image.shape[0]), faces, list(predictor.classes)

    def close(self) -> None:
        while not self._detectors.empty():
            self._detectors.get().close()
