"""Eye blinks from the eye aspect ratio (EAR) of face-mesh landmarks.

EAR (Soukupova & Cech, 2016) is the eye's height over its width: about 0.25-0.35 when open,
near 0.1 when closed. People and camera angles differ, so thresholds adapt per person: they are
fractions of the 80th percentile of that person's EAR over the last ``window_s`` seconds (their
open-eye level; a blink covers too few frames to move it, and after a long closure such as crying
it recovers within the window). The eyes count as closing below ``closed_ratio`` of that level. A
blink is counted when a closure lasts at least ``min_closed_frames`` frames, dips below
``depth_ratio`` of the level at least once (a shallow dip is a glance down or a smile, not a blink),
and the eyes open again within ``max_closed_s`` seconds (longer closures are not blinks).
"""

from __future__ import annotations

import bisect
import math
from collections import deque

import numpy as np
from pydantic import BaseModel, Field

from emoscope.cues.base import (MESH, Cue, CueAccumulator, CueOptions, FaceObservation, cue_option,
                                register_cue)

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


def percentile_of_sorted(values: list[float], q: float) -> float:
    """``np.percentile(values, q)`` (its default, linear method, to the last bit) of a non-empty ascending
    list: the loop asks for one every frame, and numpy's general machinery costs more than the sum."""
    position = (len(values) - 1) * (q / 100)
    if position >= len(values) - 1:
        return values[-1]
    lower = math.floor(position)
    below, above = values[lower], values[lower + 1]
    weight, step = position - lower, above - below
    return above - step * (1 - weight) if weight >= 0.5 else below + step * weight  # numpy's lerp


class BlinkDetector:
    """Per-person blink state machine over a stream of EAR values."""

    def __init__(self, closed_ratio: float = 0.75, depth_ratio: float = 0.6, min_closed_frames: int = 2,
                 max_closed_s: float = 0.8, window_s: float = 2.0, warmup_frames: int = 5):
        self.closed_ratio = closed_ratio
        self.depth_ratio = depth_ratio
        self.min_closed_frames = min_closed_frames
        self.max_closed_s = max_closed_s
        self.window_s = window_s
        self.warmup_frames = warmup_frames
        self._recent: deque[tuple[float, float]] = deque()  # (time, ear)
        self._ascending: list[float] = []  # the EARs of _recent in order, NaNs left out
        self._nans = 0  # NaNs in _recent
        self._closed_frames = 0
        self._closed_since: float | None = None
        self._deep = False
        self.blink_times: list[float] = []
        self.level: float | None = None  # the open level at the latest frame (None in the warm-up)

    @property
    def open_level(self) -> float | None:
        if len(self._recent) < self.warmup_frames:
            return None
        return math.nan if self._nans else float(percentile_of_sorted(self._ascending, 80))  # NaN, as numpy

    @property
    def threshold(self) -> float | None:
        level = self.open_level
        return None if level is None else self.closed_ratio * level

    def update(self, ear: float, time: float) -> bool:
        """Feed one frame's EAR; True when a blink has just completed."""
        self._recent.append((time, ear))
        self._count(ear, +1)
        while time - self._recent[0][0] > self.window_s:
            self._count(self._recent.popleft()[1], -1)
        level = self.level = self.open_level
        if level is None or ear >= self.closed_ratio * level:
            blink = (self._closed_frames >= self.min_closed_frames and self._deep
                     and time - self._closed_since <= self.max_closed_s)
            self._closed_frames, self._closed_since, self._deep = 0, None, False
            if blink:
                self.blink_times.append(time)
            return blink
        if self._closed_frames == 0:
            self._closed_since = time
        self._closed_frames += 1
        self._deep = self._deep or ear < self.depth_ratio * level
        return False

    def _count(self, ear: float, change: int) -> None:
        """Add (+1) or remove (-1) one EAR of the window from the sorted list (or the NaN count)."""
        if math.isnan(ear):
            self._nans += change
        elif change > 0:
            bisect.insort(self._ascending, ear)
        else:
            del self._ascending[bisect.bisect_left(self._ascending, ear)]

    @property
    def eyes_closed(self) -> bool:
        return self._closed_frames > 0


class BlinksModel(BaseModel):
    count: int
    per_minute: float
    measured_seconds: float = Field(description="time the eyes could be measured (face mesh found)")
    times: list[float]


class _BlinkAccumulator(CueAccumulator):
    def __init__(self):
        self.measured_frames = 0
        self.times: list[float] = []

    def add(self, time: float, values: dict) -> None:
        if values.get("ear") is not None:
            self.measured_frames += 1
        if values.get("blink"):
            self.times.append(time)

    def section(self, frame_dt: float) -> BlinksModel:
        measured = self.measured_frames * frame_dt
        return BlinksModel(count=len(self.times), per_minute=len(self.times) / (measured / 60) if measured else 0.0,
                           measured_seconds=measured, times=self.times)


@register_cue
class Blinks(Cue):
    """Eye aspect ratio per frame and blinks, one :class:`BlinkDetector` per track."""

    name = "blinks"

    class Options(CueOptions):
        blinks: bool = cue_option(True, "count blinks (face mesh)", flag=True)

    columns = (("ear", "value"), ("blink", "flag"))
    needs = frozenset({MESH})
    report_key = "blinks"
    title = "blinks"

    def update(self, face: FaceObservation) -> dict:
        if face.mesh is None:
            return {}
        ear = eye_aspect_ratio(face.mesh)
        detector = self.tracks.setdefault(face.track_id, BlinkDetector())
        blink = detector.update(ear, face.time)
        return {"ear": ear, "blink": blink, "eyes_closed": detector.eyes_closed}

    def accumulator(self) -> CueAccumulator:
        return _BlinkAccumulator()

    def describe(self, section: BlinksModel) -> str:
        return f"{section.count} ({section.per_minute:.1f}/min)"
