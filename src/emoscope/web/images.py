"""``POST /v1/images:analyze``: every face of one photo, in the server's process (a photo takes
milliseconds; videos go to the worker processes). Models load once and stay; detectors are not
thread-safe, so each request borrows one from a small pool."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

from emoscope.apps.predict import FacePrediction, predict_faces
from emoscope.errors import ModelError
from emoscope.faces import create_photo_detector, read_image
from emoscope.runtime.predictor import list_pretrained, load_predictor

PHOTO_DETECTOR = "mediapipe-full"  # as `emoscope predict`: faces at any distance, group photos


def check_model(name: str) -> str:
    """Only shipped models by name: a client never names a file on the server."""
    if name not in list_pretrained():
        raise ModelError(f"unknown model {name!r} (shipped: {', '.join(list_pretrained())})")
    return name


class ImageAnalyzer:
    def __init__(self, detectors: int = 2):
        self._predictors: dict = {}
        self._lock = threading.Lock()
        self._detectors: queue.Queue = queue.Queue()
        self._size = detectors
        self._made = 0

    def predictor(self, model: str):
        with self._lock:
            if model not in self._predictors:
                self._predictors[model] = load_predictor(check_model(model), backend="fastest")
            return self._predictors[model]

    def _borrow(self):
        with self._lock:
            if self._detectors.empty() and self._made < self._size:
                self._made += 1
                return create_photo_detector(PHOTO_DETECTOR)
        return self._detectors.get()

    def analyze(self, path: Path, model: str) -> tuple[tuple[int, int], list[FacePrediction], list[str]]:
        """((width, height), faces, classes); a file that is not a readable image is a DataError."""
        predictor = self.predictor(model)
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
