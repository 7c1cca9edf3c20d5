"""Face touching: hand landmarks inside the face box for several consecutive frames.

A hand touches the face in a frame when at least ``min_points`` of its 21 landmarks lie inside
the face box (grown by ``margin`` on each side). An episode starts after ``enter_frames``
touching frames in a row and ends after ``cooldown_frames`` frames without touching, so a hand
that hovers or a landmark that jitters is not counted twice.
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


class TouchDetector:
    """Per-person face-touch episodes with entry frames and a cooldown."""

    def __init__(self, enter_frames: int = 3, cooldown_frames: int = 5):
        self.enter_frames = enter_frames
        self.cooldown_frames = cooldown_frames
        self._streak = 0
        self._quiet = 0
        self._candidate_start: float | None = None
        self.active = False
        self.episodes: list[tuple[float, float]] = []  # (start, end) seconds

    def update(self, touching: bool, time: float) -> float | None:
        """Feed one frame; the episode's start time when this frame confirms a new episode."""
        if touching:
            if self._streak == 0:
                self._candidate_start = time
            self._streak += 1
            self._quiet = 0
            if not self.active and self._streak >= self.enter_frames:
                self.active = True
                self.episodes.append((self._candidate_start, time))
                return self._candidate_start
            if self.active:
                self.episodes[-1] = (self.episodes[-1][0], time)
            return None
        self._streak = 0
        if self.active:
            self._quiet += 1
            if self._quiet >= self.cooldown_frames:
                self.active = False
        return None
