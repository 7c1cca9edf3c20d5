"""Eye blinks from the eye aspect ratio (EAR) of face-mesh landmarks.

EAR (Soukupova & Cech, 2016) is the eye's height over its width: about 0.25-0.35 when open,
near 0.1 when closed. People and camera angles differ, so the threshold adapts per person: it is
``closed_ratio`` times a running estimate of that person's open-eye EAR. A blink is counted when
the eyes stay below it for at least ``min_closed_frames`` frames and then open again within
``max_closed_s`` seconds (longer closures are not blinks).
"""

from __future__ import annotations

import numpy as np

# Face-mesh indices: p1 outer corner, p2/p3 upper lid, p4 inner corner, p5/p6 lower lid.
RIGHT_EYE = (33, 160, 158, 133, 153, 144)  # the subject's right eye (image left)
LEFT_EYE = (362, 385, 387, 263, 373, 380)


def eye_aspect_ratio(mesh: np.ndarray) -> float:
    """Mean EAR of both eyes from one face's ``(478, 2)`` landmarks."""
    ratios = []
    for p1, p2, p3, p4, p5, p6 in (RIGHT_EYE, LEFT_EYE):
        width = np.linalg.norm(mesh[p1] - mesh[p4])
        height = np.linalg.norm(mesh[p2] - mesh[p6]) + np.linalg.norm(mesh[p3] - mesh[p5])
        ratios.append(height / (2 * width) if width > 0 else 0.0)
    return float(np.mean(ratios))


class BlinkDetector:
    """Per-person blink state machine over a stream of EAR values."""

    def __init__(self, closed_ratio: float = 0.7, min_closed_frames: int = 2, max_closed_s: float = 0.8,
                 baseline_alpha: float = 0.05, warmup_frames: int = 5):
        self.closed_ratio = closed_ratio
        self.min_closed_frames = min_closed_frames
        self.max_closed_s = max_closed_s
        self.baseline_alpha = baseline_alpha
        self.warmup_frames = warmup_frames
        self.baseline: float | None = None  # running open-eye EAR
        self._seen = 0
        self._closed_frames = 0
        self._closed_since: float | None = None
        self.blink_times: list[float] = []

    @property
    def threshold(self) -> float | None:
        return None if self.baseline is None else self.closed_ratio * self.baseline

    def update(self, ear: float, time: float) -> bool:
        """Feed one frame's EAR; True when a blink has just completed."""
        self._seen += 1
        threshold = self.threshold
        closed = threshold is not None and self._seen > self.warmup_frames and ear < threshold
        if not closed:
            # only open-eye frames move the baseline, so blinks don't drag it down
            self.baseline = ear if self.baseline is None else (
                (1 - self.baseline_alpha) * self.baseline + self.baseline_alpha * ear)
            blink = (self._closed_frames >= self.min_closed_frames and self._closed_since is not None
                     and time - self._closed_since <= self.max_closed_s)
            self._closed_frames, self._closed_since = 0, None
            if blink:
                self.blink_times.append(time)
            return blink
        if self._closed_frames == 0:
            self._closed_since = time
        self._closed_frames += 1
        return False

    @property
    def eyes_closed(self) -> bool:
        return self._closed_frames > 0
