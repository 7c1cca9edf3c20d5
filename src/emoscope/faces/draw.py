"""Drawing a face's box and label on an image (annotated photos and videos)."""

from __future__ import annotations

import numpy as np

GREEN = (0, 200, 0)


def draw_face(canvas: np.ndarray, box, text: str, colour: tuple[int, int, int] = GREEN) -> None:
    """Draw in place; line width and font grow with the image so labels stay readable on large photos."""
    import cv2

    thickness = max(1, round(max(canvas.shape[:2]) / 500))
    x1, y1, x2, y2 = (int(round(float(v))) for v in box)
    cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, thickness)
    cv2.putText(canvas, text, (x1, max(14 * thickness, y1 - 4 * thickness)), cv2.FONT_HERSHEY_SIMPLEX,
                0.5 * thickness, colour, thickness, cv2.LINE_AA)
