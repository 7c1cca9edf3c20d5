"""Hand movement: how fast a person's hands move, in face widths per second, and bursts of movement.

Speed is measured in the person's face widths (the face box's width) so that it does not depend on
how far the person sits from the camera. The hand tracker runs on every ``hands_every``-th frame
(see the face-touch cue), so speed is measured between consecutive hand samples: each hand near
the face (wrist within 1.5 face widths beside the face box, half a face above it, three below) is
matched to the nearest hand of the previous sample (wrist within one face width), and its speed is
the mean displacement of its 21 landmarks over the time between the samples. A frame's speed is
that of the fastest matched hand, held until the next sample.

The hands move when that speed is over ``moving_speed`` (0.5 face widths/s: landmark jitter of a
still hand stays below it). A burst of movement (fidgeting, gesturing) is an episode of moving
samples: two in a row start it, three still ones end it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, Field

from emoscope.cues.base import HANDS, Cue, CueAccumulator, FaceObservation, register_cue
from emoscope.cues.debounce import Debouncer, EpisodeLog

MOVING_SPEED = 0.5  # face widths per second
BURST_ENTER_SAMPLES, BURST_EXIT_SAMPLES = 2, 3


def hands_near(hands: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The hands of ``(N, 21, 2)`` whose wrist lies in the region around the face where its own hands are."""
    if len(hands) == 0:
        return hands
    x1, y1, x2, y2 = box
    width, height = x2 - x1, y2 - y1
    wrist = hands[:, 0]
    near = ((wrist[:, 0] >= x1 - 1.5 * width) & (wrist[:, 0] <= x2 + 1.5 * width)
            & (wrist[:, 1] >= y1 - 0.5 * height) & (wrist[:, 1] <= y2 + 3 * height))
    return hands[near]


def hand_speed(previous: np.ndarray, current: np.ndarray, seconds: float, face_width: float) -> float | None:
    """Speed of the fastest hand of ``current`` matched to one of ``previous`` (face widths per second)."""
    if seconds <= 0 or face_width <= 0 or not len(previous) or not len(current):
        return None
    speeds = []
    for hand in current:
        distances = np.linalg.norm(previous[:, 0] - hand[0], axis=1)
        nearest = int(np.argmin(distances))
        if distances[nearest] <= face_width:
            speeds.append(np.linalg.norm(hand - previous[nearest], axis=1).mean() / seconds / face_width)
    return float(max(speeds)) if speeds else None


@dataclass
class _HandTrack:
    bursts: Debouncer
    sample: np.ndarray | None = None  # the whole frame's hands of the latest sample (to spot the next one)
    near: np.ndarray | None = None  # of them, the hands near this face
    sample_time: float = 0.0
    speed: float | None = None


class HandMovementModel(BaseModel):
    hands_visible_share: float = Field(description="share of the person's frames with a hand near the face")
    moving_share: float = Field(description="share of the person's frames with a hand moving over 0.5 face widths/s")
    mean_speed: float | None = Field(description="face widths per second, over frames with a measured speed")
    median_speed: float | None
    p90_speed: float | None
    bursts: int = Field(description="episodes of movement")
    bursts_per_minute: float
    burst_seconds: float
    episodes: list[tuple[float, float]] = Field(description="(start, end) seconds")


class _HandAccumulator(CueAccumulator):
    def __init__(self):
        self.frames = self.visible = self.moving = 0
        self.speeds: list[float] = []
        self.log = EpisodeLog()

    def add(self, time: float, values: dict) -> None:
        self.frames += 1
        self.visible += bool(values.get("hands_near"))
        self.moving += bool(values.get("hands_moving"))
        if values.get("hand_speed") is not None:
            self.speeds.append(values["hand_speed"])
        self.log.add(values.get("burst_started"), bool(values.get("hand_burst") and values.get("hands_moving")), time)

    def section(self, frame_dt: float) -> HandMovementModel:
        speeds = np.array(self.speeds)
        episodes = self.log.summary(frame_dt)
        minutes = self.frames * frame_dt / 60
        stat = (lambda f: float(f(speeds))) if len(speeds) else (lambda f: None)
        return HandMovementModel(
            hands_visible_share=self.visible / self.frames, moving_share=self.moving / self.frames,
            mean_speed=stat(np.mean), median_speed=stat(np.median), p90_speed=stat(lambda s: np.percentile(s, 90)),
            bursts=episodes["count"], bursts_per_minute=episodes["count"] / minutes if minutes else 0.0,
            burst_seconds=episodes["total_seconds"], episodes=episodes["episodes"])


@register_cue
class HandMovement(Cue):
    """Per frame: the hands' speed in face widths per second, whether they move, and movement bursts."""

    name = "hand_movement"
    switch = ("touches",)  # the hand tracker is shared with face touching; ``--no-touches`` stops both
    columns = (("hand_speed", "value"), ("hands_moving", "flag"), ("hand_burst", "flag"))
    needs = frozenset({HANDS})
    report_key = "hand_movement"
    title = "hand movement"

    def __init__(self, options, classes):
        super().__init__(options, classes)
        every = getattr(options, "hands_every", 1)
        self._enter, self._exit = BURST_ENTER_SAMPLES * every, BURST_EXIT_SAMPLES * every

    def update(self, face: FaceObservation) -> dict:
        track = self.tracks.setdefault(face.track_id, _HandTrack(Debouncer(self._enter, self._exit)))
        if track.sample is None or not np.array_equal(track.sample, face.hands):  # a new hand sample
            near = hands_near(face.hands, face.box)
            track.speed = (None if track.near is None else
                           hand_speed(track.near, near, face.time - track.sample_time, face.box[2] - face.box[0]))
            track.sample, track.near, track.sample_time = face.hands, near, face.time
        moving = track.speed is not None and track.speed > MOVING_SPEED
        started = track.bursts.update(moving, face.time)
        return {"hand_speed": track.speed, "hands_moving": moving, "hand_burst": track.bursts.active,
                "burst_started": started, "hands_near": bool(len(track.near))}

    def accumulator(self) -> CueAccumulator:
        return _HandAccumulator()

    def describe(self, section) -> str:
        s = HandMovementModel.model_validate(section)
        speed = "no speed measured" if s.mean_speed is None else (
            f"speed mean {s.mean_speed:.2f}, p90 {s.p90_speed:.2f} face widths/s")
        return (f"hands near the face {s.hands_visible_share:.0%}, moving {s.moving_share:.0%}; {speed}; "
                f"{s.bursts} burst(s) ({s.bursts_per_minute:.1f}/min, {s.burst_seconds:.1f} s)")
