"""Face touching: hand landmarks inside the face box for several consecutive frames.

A hand touches the face in a frame when at least ``min_points`` of its 21 landmarks lie inside
the face box (grown by ``margin`` on each side). Episodes come from a
:class:`~emoscope.cues.debounce.Debouncer`: they start after a few touching frames in a row and
end after a few frames without, so a hand that hovers or a landmark that jitters is not counted twice.
"""

from __future__ import annotations

import numpy as np


def hand_touches_face(hands: np.ndarray, box: np.ndarray, min_points: int = 3, margin: float = 0.05) -> bool:
    """``hands``: ``(N, 21, 2)`` pixels; ``box``: x1, y1, x2, y2."""
    if len(hands) == 0:
        return False
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * margin, (y2 - y1) * margin
    inside = ((hands[..., 0] >= x1 - dx) & (hands[..., 0] <= x2 + dx)
              & (hands[..., 1] >= y1 - dy) & (hands[..., 1] <= y2 + dy))
    return bool((inside.sum(axis=1) >= min_points).any())
