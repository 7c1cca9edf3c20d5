"""Frames labelled for people: each hand's landmarks and verdict, and the held gesture on top."""

from __future__ import annotations

import numpy as np

from emoscope.gestures.classifier import GestureFrame
from emoscope.gestures.stream import GESTURE_FRAME, HELD
from emoscope.video.results import FrameResult

BONES = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11), (11, 12),
         (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17), (17, 18), (18, 19), (19, 20))


def draw_gestures(result: FrameResult) -> np.ndarray:
    """A copy of a gesture session's frame with hand skeletons, per-hand labels and the held gesture
    (for :class:`~emoscope.video.sinks.VideoWriterSink`)."""
    import cv2

    frame: GestureFrame = result.data[GESTURE_FRAME]
    stable: str = result.data[HELD]
    canvas = result.frame.image.copy()
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
