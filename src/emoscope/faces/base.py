"""The face-detector interface and the input/output handling every backend shares."""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol, runtime_checkable

import numpy as np

from emoscope.errors import EmoscopeError
from emoscope.faces.detections import CropFraming, Detections
from emoscope.faces.images import as_bgr


@runtime_checkable
class FaceDetector(Protocol):
    name: str

    def detect(self, image_bgr: np.ndarray) -> Detections: ...

    def close(self) -> None: ...


WORKING_SIDE = 1280
"""Larger images are shrunk to this longest side before detection: every backend's cost grows with
the pixel count, and faces big enough to classify stay far above the detectors' minimum sizes."""


class BaseDetector:
    """What every backend shares: accept gray/BGR/BGRA, work on a bounded image size, drop low
    scores, clip to the image. Subclasses implement :meth:`_detect` on a uint8 HxWx3 BGR image.
    """

    name = ""
    framing = CropFraming()
    """How this backend's boxes sit on a face; stamped on every :class:`Detections` it returns."""

    def __init__(self, min_score: float = 0.5, working_side: int = WORKING_SIDE):
        if not 0.0 <= min_score <= 1.0:
            raise EmoscopeError(f"min_score must be in [0, 1], got {min_score}")
        self.min_score = min_score
        self.working_side = working_side

    def _detect(self, image_bgr: np.ndarray) -> Detections:
        raise NotImplementedError

    def detect(self, image_bgr: np.ndarray) -> Detections:
        image = as_bgr(image_bgr)
        height, width = image.shape[:2]
        if height == 0 or width == 0:
            return Detections.empty()
        shrink = min(1.0, self.working_side / max(height, width))
        if shrink < 1.0:
            import cv2

            image = cv2.resize(image, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
        found = replace(self._detect(np.ascontiguousarray(image)), framing=self.framing).scaled(1.0 / shrink)
        return found.select(found.scores >= self.min_score).clipped(width, height)

    def close(self) -> None:
        """Release native resources; the detector cannot be used afterwards."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, min_score={self.min_score})"
