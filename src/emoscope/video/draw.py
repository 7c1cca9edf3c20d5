"""What an annotated analysis video shows: each face's box, track ID and label."""

from __future__ import annotations

import numpy as np

from emoscope.faces.draw import GREEN, draw_face
from emoscope.video.results import FrameResult

TOUCHING = (0, 0, 255)


def draw_faces(result: FrameResult) -> np.ndarray:
    """A copy of the frame with every face's box and ``#track label probability`` (red while a
    face-touch episode is active; "eyes closed" while the eyes are closing)."""
    canvas = result.frame.image.copy()
    for face in result.faces:
        text = f"#{face.track_id} {face.label} {face.smoothed.max():.2f}"
        if face.data.get("eyes_closed"):
            text += " eyes closed"
        draw_face(canvas, face.box, text, TOUCHING if face.data.get("touching") else GREEN)
    return canvas
