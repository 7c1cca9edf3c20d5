"""Blink kinematics: how long each blink lasts, how long the lids stay shut, how fast they close and
open; PERCLOS; and long closures, kept apart from blinks.

It reads the same eye aspect ratio (EAR) series as the blink cue, with the same per-person open-eye
level ``L`` (80th percentile of the last 2 s) and the same closure rule (:class:`BlinkDetector`):
a closure is a run of frames with EAR below 0.75 L that dips below 0.6 L and lasts at least 2
frames. For each closure:

* duration: its frames x the frame interval (from the first frame below 0.75 L to the frame the
  eyes are open again, exclusive);
* closed time: the frames below 0.6 L (the lids shut, as far as a face mesh can tell);
* closing / opening time: the frames before the first / after the last shut frame;
* closing / opening speed: the steepest frame-to-frame fall / rise of the EAR, in open levels per
  second (1.0 /s: the lids would travel from open to EAR 0 in one second).

Closures up to ``long_closure_s`` (0.5 s) are blinks; longer ones are long closures (drowsiness,
crying with the eyes shut, a laugh): listed apart, never averaged into blink durations. PERCLOS is
the share of measured frames with EAR below 0.6 L (shut), over the frames past the warm-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, Field

from emoscope.cues.base import MESH, Cue, CueAccumulator, FaceObservation, register_cue
from emoscope.cues.blinks import BlinkDetector, eye_aspect_ratio

LONG_CLOSURE_S = 0.5


class BlinkRecord(BaseModel):
    start: float = Field(description="seconds: first frame below 0.75 x the open level")
    duration: float = Field(description="seconds until the eyes are open again")
    closed: float = Field(description="seconds with the lids shut (EAR below 0.6 x the open level)")
    closing: float = Field(description="seconds from the start to the first shut frame")
    opening: float = Field(description="seconds from the last shut frame to open")
    closing_speed: float = Field(description="steepest EAR fall, open levels per second")
    opening_speed: float = Field(description="steepest EAR rise, open levels per second")


class BlinkKinematicsModel(BaseModel):
    blinks: int = Field(description="closures up to 0.5 s")
    mean_duration: float | None = Field(description="seconds")
    median_duration: float | None = Field(description="seconds")
    mean_closed: float | None = Field(description="seconds")
    mean_closing_speed: float | None = Field(description="open levels per second")
    mean_opening_speed: float | None = Field(description="open levels per second")
    perclos: float = Field(description="share of measured frames with the eyes shut")
    long_closures: list[tuple[float, float]] = Field(description="(start, duration) seconds of closures over 0.5 s")
    per_blink: list[BlinkRecord]


@dataclass
class _Closure:
    level: float  # open level when it started
    times: list[float] = field(default_factory=list)
    ears: list[float] = field(default_factory=list)
    before: float | None = None  # the EAR of the frame before it (where the fall starts)


@dataclass
class _EyeTrack:
    detector: BlinkDetector = field(default_factory=BlinkDetector)
    closure: _Closure | None = None
    last_ear: float | None = None


def closure_kinematics(closure: _Closure, reopened_at: float, reopened_ear: float,
                       depth_ratio: float) -> BlinkRecord | None:
    """The record of a finished closure, or None when it is not one (too short or too shallow)."""
    times, ears = np.array(closure.times), np.array(closure.ears)
    shut = np.flatnonzero(ears < depth_ratio * closure.level)
    if len(times) < 2 or not len(shut):
        return None
    all_times = np.concatenate([times, [reopened_at]])
    frame_dt = np.diff(all_times)  # each closure frame lasts until the next frame
    duration = float(reopened_at - times[0])
    series = np.concatenate([[closure.before if closure.before is not None else ears[0]], ears, [reopened_ear]])
    steps = np.diff(series) / closure.level
    step_dt = np.concatenate([[frame_dt[0]], frame_dt])  # the fall into the first frame takes one frame too
    lowest = int(np.argmin(ears)) + 1  # index in ``series``
    closing_speed = float(max(0.0, (-steps[:lowest] / step_dt[:lowest]).max()))
    opening_speed = float(max(0.0, (steps[lowest:] / step_dt[lowest:]).max()))
    return BlinkRecord(start=float(times[0]), duration=duration, closed=float(frame_dt[shut].sum()),
                       closing=float(frame_dt[: shut[0]].sum()), opening=float(frame_dt[shut[-1] + 1 :].sum()),
                       closing_speed=closing_speed, opening_speed=opening_speed)


class _KinematicsAccumulator(CueAccumulator):
    def __init__(self):
        self.measured = 0
        self.shut = 0
        self.records: list[BlinkRecord] = []
        self.long: list[tuple[float, float]] = []

    def add(self, time: float, values: dict) -> None:
        if values.get("eye_closure") is not None:
            self.measured += 1
            self.shut += bool(values["lids_shut"])
        record = values.get("closure_record")
        if record is not None:
            if record.duration > LONG_CLOSURE_S:
                self.long.append((record.start, record.duration))
            else:
                self.records.append(record)

    def section(self, frame_dt: float) -> BlinkKinematicsModel | None:
        if not self.measured:
            return None

        def mean(name: str) -> float | None:
            return float(np.mean([getattr(r, name) for r in self.records])) if self.records else None

        durations = [r.duration for r in self.records]
        return BlinkKinematicsModel(
            blinks=len(self.records), mean_duration=mean("duration"),
            median_duration=float(np.median(durations)) if durations else None, mean_closed=mean("closed"),
            mean_closing_speed=mean("closing_speed"), mean_opening_speed=mean("opening_speed"),
            perclos=self.shut / self.measured, long_closures=self.long, per_blink=self.records)


@register_cue
class BlinkKinematics(Cue):
    """Per frame: how far the lids are closed (1 - EAR / open level), whether they are shut, a
    blink's duration on the frame it ends and whether a long closure is under way."""

    name = "blink_kinematics"
    switch = ("blinks",)  # ``--no-blinks`` switches off the blink cue and its detail alike
    columns = (("eye_closure", "value"), ("lids_shut", "flag"), ("blink_duration", "value"),
               ("long_closure", "flag"))
    needs = frozenset({MESH})
    report_key = "blink_kinematics"
    title = "blink kinematics"

    def update(self, face: FaceObservation) -> dict:
        if face.mesh is None:
            return {}
        ear = eye_aspect_ratio(face.mesh)
        track = self.tracks.setdefault(face.track_id, _EyeTrack())
        detector = track.detector
        detector.update(ear, face.time)
        level = detector.level
        values: dict = {}
        if track.closure is not None and not detector.eyes_closed:
            record = closure_kinematics(track.closure, face.time, ear, detector.depth_ratio)
            track.closure = None
            if record is not None:
                values["closure_record"] = record
                if record.duration <= LONG_CLOSURE_S:
                    values["blink_duration"] = record.duration
        if detector.eyes_closed:
            if track.closure is None:
                track.closure = _Closure(level=level, before=track.last_ear)
            track.closure.times.append(face.time)
            track.closure.ears.append(ear)
        track.last_ear = ear
        if level is None:
            return values
        closure = track.closure
        return values | {
            "eye_closure": float(np.clip(1 - ear / level, 0, 1)) if level > 0 else None,
            "lids_shut": ear < detector.depth_ratio * level,
            "long_closure": bool(closure and face.time - closure.times[0] > LONG_CLOSURE_S
                                 and min(closure.ears) < detector.depth_ratio * closure.level),
        }

    def accumulator(self) -> CueAccumulator:
        return _KinematicsAccumulator()

    def describe(self, section) -> str:
        s = BlinkKinematicsModel.model_validate(section)
        blinks = (f"{s.blinks} blink(s), duration mean {s.mean_duration * 1000:.0f} ms (median "
                  f"{s.median_duration * 1000:.0f}), shut {s.mean_closed * 1000:.0f} ms, closing "
                  f"{s.mean_closing_speed:.1f}/s, opening {s.mean_opening_speed:.1f}/s" if s.blinks else "no blinks")
        long = "; ".join(f"{start:.1f} s for {duration:.1f} s" for start, duration in s.long_closures)
        return f"{blinks}; PERCLOS {s.perclos:.1%}; long closures: {long or 'none'}"
