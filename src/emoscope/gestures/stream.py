"""Gestures over time: per-frame labels smoothed by a hold rule, and the events worth announcing,
as the video loop's :class:`~emoscope.video.results.FrameResult` so the same sinks consume them.

A label becomes the current gesture only after ``hold_frames`` consecutive frames agree, so a
hand passing through a V on its way to a fist never says "victory", and one odd frame inside a
held sign changes nothing. Each new gesture is announced once; it is announced again only after
some other label (another gesture, "unknown" or "no hand") has held in between.
"""

from __future__ import annotations

from collections.abc import Iterator

from emoscope.errors import EmoscopeError
from emoscope.gestures.classifier import GestureClassifier, GestureFrame
from emoscope.gestures.vocabulary import GESTURES, NO_HAND
from emoscope.video.results import FrameResult
from emoscope.video.source import Frame


class HoldSmoother:
    """Turns raw per-frame labels into a stable label that changes only after ``hold_frames`` frames."""

    def __init__(self, hold_frames: int):
        if hold_frames < 1:
            raise EmoscopeError(f"hold must be at least 1 frame, got {hold_frames}")
        self.hold_frames = hold_frames
        self.stable = NO_HAND
        self._candidate = NO_HAND
        self._run = 0

    def update(self, label: str) -> str | None:
        """Feed one frame's label; returns the gesture when this frame makes it newly stable."""
        self._run = self._run + 1 if label == self._candidate else 1
        self._candidate = label
        if self._run >= self.hold_frames and label != self.stable:
            self.stable = label
            return label if label in GESTURES else None
        return None


GESTURE_FRAME, HELD, STARTED = "gestures", "held_gesture", "gesture_started"
"""Keys of a gesture session's :attr:`FrameResult.data`: the frame's :class:`GestureFrame`, the held
label, and the gesture this frame made newly held (or None)."""


def gesture_result(frame: Frame, gestures: GestureFrame, smoother: HoldSmoother) -> FrameResult:
    started = smoother.update(gestures.label)
    return FrameResult(frame, hands=len(gestures.hands),
                       data={GESTURE_FRAME: gestures, HELD: smoother.stable, STARTED: started})


def gesture_results(frames: Iterator[Frame], classifier: GestureClassifier, hold_frames: int) -> Iterator[FrameResult]:
    """Classify and smooth frame after frame (constant memory, however long the video)."""
    smoother = HoldSmoother(hold_frames)
    for frame in frames:
        yield gesture_result(frame, classifier.classify(frame.image, frame.index, frame.time), smoother)
