"""Per-frame results that flow from the analysis loop to sinks and the report."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    ear: float | None = None  # eye aspect ratio (face mesh), None when not measured
    eyes_closed: bool | None = None
    blink: bool = False  # a blink completed in this frame
    gaze: str | None = None  # left / centre / right, camera view
    hand_on_face: bool = False  # hand landmarks inside the face box in this frame
    touching: bool = False  # a face-touch episode is active (confirmed, maybe in its cooldown)
    touch_started: float | None = None  # start time of an episode this frame confirmed
    panic: float | None = None  # smoothed panic score, when panic is scored
    panic_above: bool = False  # the score is at or above the panic threshold in this frame
    panic_active: bool = False  # a panic episode is active (confirmed, maybe in its exit frames)
    panic_started: float | None = None


@dataclass
class FrameResult:
    """Everything found in one analysed frame; holds the frame itself so sinks can draw on it."""

    frame: Frame
    faces: list[FaceResult] = field(default_factory=list)
    hands: int = 0  # hands seen in the frame (when touch detection runs)
    crowd_alert: dict | None = None  # a crowd panic alert raised at this frame

    @property
    def index(self) -> int:
        return self.frame.index

    @property
    def time(self) -> float:
        return self.frame.time
