"""Frames labelled for people: each hand's landmarks and verdict, and the held gesture on top."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emoscope.errors import EmoscopeError
from emoscope.gestures.classifier import GestureFrame

BONES = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11), (11, 12),
         (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17), (17, 18), (18, 19), (19, 20))


def draw_gestures(image_bgr: np.ndarray, frame: GestureFrame, stable: str) -> np.ndarray:
    """A copy of the frame with hand skeletons, per-hand labels and the held gesture."""
    import cv2

    canvas = image_bgr.copy()
    scale = max(canvas.shape[:2]) / 640
    thickness = max(1, round(2 * scale))
    for result in frame.hands:
        if result.hand is None:
            continue
        points = result.hand.landmarks[:, :2].round().astype(int)
        colour = (0, 200, 0) if result.letter else (0, 165, 255)
        for a, b in BONES:
            cv2.line(canvas, tuple(points[a]), tuple(points[b]), colour, thickness, cv2.LINE_AA)
        x1, y1, _, _ = (int(v) for v in result.hand.box)
        cv2.putText(canvas, f"{result.gesture} {result.confidence:.2f}", (x1, max(20, y1 - 10)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, colour, thickness, cv2.LINE_AA)
    cv2.putText(canvas, stable, (10, int(30 * scale)), cv2.FONT_HERSHEY_SIMPLEX, 0.9 * scale, (255, 255, 255),
                thickness + 2, cv2.LINE_AA)
    cv2.putText(canvas, stable, (10, int(30 * scale)), cv2.FONT_HERSHEY_SIMPLEX, 0.9 * scale, (0, 0, 0),
                thickness, cv2.LINE_AA)
    return canvas


class AnnotatedOutput:
    """Writes labelled frames: one image for an image file name, else an MP4 video."""

    def __init__(self, path: str | Path, fps: float = 30.0):
        self.path = Path(path)
        self.fps = fps
        self._video = None
        self._is_image = self.path.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".webp")

    def write(self, image_bgr: np.ndarray) -> None:
        import cv2

        if self._is_image:
            if not cv2.imwrite(str(self.path), image_bgr):
                raise EmoscopeError(f"{self.path}: cannot write the labelled image")
            return
        if self._video is None:
            height, width = image_bgr.shape[:2]
            self._video = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (width, height))
            if not self._video.isOpened():
                raise EmoscopeError(f"{self.path}: cannot write a labelled video here")
        self._video.write(image_bgr)

    def close(self) -> None:
        if self._video is not None:
            self._video.release()
