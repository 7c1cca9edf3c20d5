"""Per-frame results that flow from the analysis loop to sinks and the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emoscope.video.source import Frame


@dataclass
class FaceResult:
    """One tracked face in one frame."""

    track_id: int
    box: np.ndarray  # x1, y1, x2, y2 pixels
    score: float  # detector confidence
    probs: np.ndarray  # the classifier's probabilities for this frame
    smoothed: np.ndarray  # EMA of probs over the track
    label: str  # argmax of smoothed
    data: dict[str, Any] = field(default_factory=dict)  # each cue's values by name (see emoscope.cues)
    crop: np.ndarray | None = None  # the aligned crop the classifier read (e.g. for per-part views)


@dataclass
class FrameResult:
    """Everything found in one analysed frame; holds the frame itself so sinks can draw on it."""

    frame: Frame
    faces: list[FaceResult] = field(default_factory=list)
    hands: int = 0  # hands seen in the frame (when hands are tracked)
    events: list[dict] = field(default_factory=list)  # events cues raised at this frame, e.g. crowd panic alerts
    data: dict[str, Any] = field(default_factory=dict)  # frame-level values of other producers (e.g. gestures)

    @property
    def index(self) -> int:
        return self.frame.index

    @property
    def time(self) -> float:
        return self.frame.time
