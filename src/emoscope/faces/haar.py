"""OpenCV's Viola-Jones frontal-face cascade: no model download, no keypoints, frontal faces only."""

from __future__ import annotations

import numpy as np

from emoscope.faces.base import BaseDetector
from emoscope.faces.detections import CropFraming, Detections
from emoscope.faces.registry import register_detector


class HaarDetector(BaseDetector):
    """Scores are all 1.0: the cascade's stage sums are not comparable confidences.

    ``min_neighbors`` trades misses (higher) for false positives (lower).
    """

    name = "haar"
    framing = CropFraming(scale=1.049, dx=-0.003, dy=-0.001)

    def __init__(self, min_score: float = 0.5, scale_factor: float = 1.1, min_neighbors: int = 5, min_size: int = 30,
                 **kwargs):
        import cv2

        super().__init__(min_score, **kwargs)
        self._cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size

    def _detect(self, image_bgr: np.ndarray) -> Detections:
        import cv2

        gray = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
        gray = cv2.equalizeHist(gray)  # the cascade was trained on contrast-normalised windows
        rects = self._cascade.detectMultiScale(gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                                               minSize=(self.min_size, self.min_size))
        if len(rects) == 0:
            return Detections.empty()
        rects = np.asarray(rects, dtype=np.float32)
        boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
        return Detections(boxes, np.ones(len(boxes), dtype=np.float32))


register_detector("haar", HaarDetector, "OpenCV's frontal cascade, no keypoints")
