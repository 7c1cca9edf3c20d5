"""Face touching: hand landmarks inside the face box for several consecutive frames.

A hand touches the face in a frame when at least ``min_points`` of its 21 landmarks lie inside
the face box (grown by ``margin`` on each side). Episodes come from a
:class:`~emoscope.cues.debounce.Debouncer`: they start after a few touching frames in a row and
end after a few frames without, so a hand that hovers or a landmark that jitters is not counted twice.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from emoscope.cues.base import (HANDS, Cue, CueAccumulator, CueOptions, FaceObservation, cue_option,
                                register_cue)
from emoscope.cues.debounce import Debouncer, EpisodeLog


def hand_touches_face(hands: np.ndarray, box: np.ndarray, min_points: int = 3, margin: float = 0.05) -> bool:
    """``hands``: ``(N, 21, 2)`` pixels; ``box``: x1, y1, x2, y2."""
    if len(hands) == 0:
        return False
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * margin, (y2 - y1) * margin
    inside = ((hands[..., 0] >= x1 - dx) & (hands[..., 0] <= x2 + dx)
              & (hands[..., 1] >= y1 - dy) & (hands[..., 1] <= y2 + dy))
    return bool((inside.sum(axis=1) >= min_points).any())


class TouchesModel(BaseModel):
    count: int
    total_seconds: float
    episodes: list[tuple[float, float]] = Field(description="(start, end) seconds")


class _TouchAccumulator(CueAccumulator):
    def __init__(self):
        self.log = EpisodeLog()

    def add(self, time: float, values: dict) -> None:
        self.log.add(values.get("touch_started"), bool(values.get("touching") and values.get("hand_on_face")), time)

    def section(self, frame_dt: float) -> TouchesModel:
        return TouchesModel(**self.log.summary(frame_dt))


@register_cue
class Touches(Cue):
    """A hand on the face in this frame, and face-touch episodes with hysteresis per track."""

    name = "touches"

    class Options(CueOptions):
        touches: bool = cue_option(True, "detect face touching (hand landmarks)", flag=True)
        touch_enter_frames: int = cue_option(3, "touching frames in a row that start an episode", ge=1)
        touch_exit_frames: int = cue_option(5, "frames without touching that end an episode", ge=1)

    columns = (("hand_on_face", "flag"), ("touching", "flag"))
    needs = frozenset({HANDS})
    report_key = "touches"
    title = "face touches"

    def __init__(self, options, classes):
        super().__init__(options, classes)
        self._enter, self._exit = self.settings.touch_enter_frames, self.settings.touch_exit_frames

    def update(self, face: FaceObservation) -> dict:
        on_face = hand_touches_face(face.hands, face.box)
        debouncer = self.tracks.setdefault(face.track_id, Debouncer(self._enter, self._exit))
        started = debouncer.update(on_face, face.time)
        return {"hand_on_face": on_face, "touching": debouncer.active, "touch_started": started}

    def accumulator(self) -> CueAccumulator:
        return _TouchAccumulator()

    def describe(self, section: TouchesModel) -> str:
        return f"{section.count} ({section.total_seconds:.1f} s)"
