"""Accumulates the stream of :class:`FrameResult` into a :class:`Report`.

Only compact per-person series are kept (a time and one row of probabilities per analysed frame:
about 3 MB per person-hour at 30 fps), never frames.
"""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from emoscope.report.schema import (
    AnalysisModel, BlinksModel, EpisodeModel, IntervalModel, PanicModel, PersonReport, Report, ResponseModel,
    TouchesModel, TransitionsModel, VideoModel,
)
from emoscope.report.timeline import (
    DEFAULT_VALENCE, INTERVAL_NAMES, Episode, count_transitions, dominant_per_part, episodes, mean_per_part,
)
from emoscope.video.results import FrameResult


class ReportOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parts: int = Field(40, ge=1, description="equal slices of the video with a dominant emotion each")
    min_episode_s: float = Field(0.5, ge=0, description="shorter runs of one label are flickers")
    min_person_s: float = Field(1.0, ge=0, description="tracks seen for less time are dropped as spurious")
    valence: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_VALENCE),
                                    description="+1 positive, -1 negative, 0 neither; hard transitions cross signs")


@dataclass
class _PersonSeries:
    times: array = field(default_factory=lambda: array("d"))
    probs: array = field(default_factory=lambda: array("f"))
    ear_frames: int = 0
    blink_times: list[float] = field(default_factory=list)
    touches: list[list[float]] = field(default_factory=list)
    gaze: Counter = field(default_factory=Counter)
    panic_scores: array = field(default_factory=lambda: array("f"))
    panics: list[list[float]] = field(default_factory=list)


def _extend_episodes(episodes: list[list[float]], started: float | None, active_and_on: bool, time: float) -> None:
    """Episodes rebuilt from per-frame flags: a new one when a frame confirms its start, extended
    while it is active and its condition holds (exit frames after the last "on" frame don't count)."""
    if started is not None:
        episodes.append([started, time])
    elif active_and_on and episodes:
        episodes[-1][1] = time


class ReportBuilder:
    def __init__(self, classes: list[str], frame_dt: float, options: ReportOptions | None = None):
        self.classes = list(classes)
        self.frame_dt = frame_dt
        self.options = options or ReportOptions()
        self.people: dict[int, _PersonSeries] = {}
        self.frames = 0
        self.crowd_alerts: list[dict] = []

    def add(self, result: FrameResult) -> None:
        self.frames += 1
        if result.crowd_alert is not None:
            self.crowd_alerts.append(result.crowd_alert)
        for face in result.faces:
            person = self.people.setdefault(face.track_id, _PersonSeries())
            person.times.append(result.time)
            person.probs.extend(np.asarray(face.smoothed, dtype=np.float32).tolist())
            if face.ear is not None:
                person.ear_frames += 1
            if face.blink:
                person.blink_times.append(result.time)
            _extend_episodes(person.touches, face.touch_started, face.touching and face.hand_on_face, result.time)
            if face.panic is not None:
                person.panic_scores.append(face.panic)
                _extend_episodes(person.panics, face.panic_started, face.panic_active and face.panic_above,
                                 result.time)
            if face.gaze is not None:
                person.gaze[face.gaze] += 1

    def build(self, video: VideoModel, analysis: AnalysisModel, metadata: dict[str, str] | None = None,
              measured: tuple[bool, bool, bool] = (True, True, True)) -> Report:
        """``measured``: whether blinks, touches and gaze were measured (else reported as None); panic is
        reported when scores arrived."""
        duration = video.duration or (self.frames * self.frame_dt)
        people, notes, seen_at = [], [], []
        for track_id, series in sorted(self.people.items()):
            visible = len(series.times) * self.frame_dt
            if visible < self.options.min_person_s:
                notes.append(f"track {track_id} seen for only {visible:.2f} s; dropped as a spurious detection")
                continue
            people.append(self._person(track_id, series, duration, measured))
            seen_at.append(np.array(series.times))
        # a frame shows a face when a kept person is in it; spurious detections do not count
        times_with_face = np.unique(np.concatenate(seen_at)) if seen_at else np.zeros(0)
        if not people:
            notes.append("no face was found" + (" (only spurious detections)" if self.people else ""))
        return Report(
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            metadata=metadata or {},
            video=video,
            analysis=analysis,
            face_visible_share=len(times_with_face) / self.frames if self.frames else 0.0,
            first_face_s=float(times_with_face[0]) if len(times_with_face) else None,
            people=people,
            crowd_alerts=self.crowd_alerts,
            notes=notes,
        )

    def _person(self, track_id: int, series: _PersonSeries, duration: float,
                measured: tuple[bool, bool, bool]) -> PersonReport:
        times = np.array(series.times, dtype=np.float64)
        probs = np.array(series.probs, dtype=np.float32).reshape(len(times), len(self.classes))
        labels = [self.classes[i] for i in probs.argmax(axis=1)]
        eps = episodes(times, labels, self.frame_dt, self.options.min_episode_s)
        visible = len(times) * self.frame_dt
        minutes = max(visible / 60, 1e-9)
        soft, hard = count_transitions(eps, self.options.valence)
        mean = probs.mean(axis=0)
        counts = Counter(labels)
        interval_means = mean_per_part(times, probs, duration, len(INTERVAL_NAMES))
        step = duration / len(INTERVAL_NAMES)
        first_expression = next((e for e in eps if e.label != "neutral"), None)
        blinks_measured, touches_measured, gaze_measured = measured
        return PersonReport(
            track_id=track_id,
            first_seen=float(times[0]),
            last_seen=float(times[-1]),
            frames=len(times),
            visible_seconds=visible,
            dominant_emotion=self.classes[int(np.argmax(mean))],
            average_probabilities=dict(zip(self.classes, map(float, mean))),
            time_share={c: counts.get(c, 0) / len(labels) for c in self.classes},
            distinct_emotions=len({e.label for e in eps}),
            parts=dominant_per_part(times, probs, duration, self.options.parts, self.classes),
            intervals=[
                IntervalModel(name=name, start=i * step, end=(i + 1) * step,
                              dominant=None if m is None else self.classes[int(np.argmax(m))],
                              mean_probabilities=None if m is None else dict(zip(self.classes, map(float, m))))
                for i, (name, m) in enumerate(zip(INTERVAL_NAMES, interval_means))
            ],
            episodes=len(eps),
            longest_episode=_episode(max(eps, key=lambda e: e.duration)) if eps else None,
            shortest_episode=_episode(min(eps, key=lambda e: e.duration)) if eps else None,
            transitions=TransitionsModel(soft=soft, hard=hard, soft_per_minute=soft / minutes,
                                         hard_per_minute=hard / minutes),
            blinks=self._blinks(series) if blinks_measured else None,
            touches=TouchesModel(**self._episodes(series.touches)) if touches_measured else None,
            panic=self._panic(series),
            gaze_share=({d: series.gaze.get(d, 0) / max(sum(series.gaze.values()), 1)
                         for d in ("left", "centre", "right")} if gaze_measured else None),
            response=ResponseModel(
                first_visible_s=float(times[0]),
                first_expression_s=first_expression.start if first_expression else None,
                first_expression=first_expression.label if first_expression else None,
            ),
        )

    def _panic(self, series: _PersonSeries) -> PanicModel | None:
        if not series.panic_scores:
            return None
        scores = np.array(series.panic_scores, dtype=np.float32)
        return PanicModel(mean_score=float(scores.mean()), max_score=float(scores.max()),
                          **self._episodes(series.panics))

    def _episodes(self, episodes: list[list[float]]) -> dict:
        """count, total seconds and (start, end) of episodes; the last frame lasts one frame interval."""
        spans = [(start, end + self.frame_dt) for start, end in episodes]
        return {"count": len(spans), "total_seconds": sum(end - start for start, end in spans), "episodes": spans}

    def _blinks(self, series: _PersonSeries) -> BlinksModel:
        measured = series.ear_frames * self.frame_dt
        return BlinksModel(count=len(series.blink_times),
                           per_minute=len(series.blink_times) / (measured / 60) if measured else 0.0,
                           measured_seconds=measured, times=series.blink_times)

    def series(self, track_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(times, smoothed probabilities) of one person, for charts."""
        s = self.people[track_id]
        times = np.array(s.times, dtype=np.float64)
        return times, np.array(s.probs, dtype=np.float32).reshape(len(times), len(self.classes))


def _episode(e: Episode) -> EpisodeModel:
    return EpisodeModel(label=e.label, start=e.start, duration=e.duration)
