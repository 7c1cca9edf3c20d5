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

from emoscope.cues.base import Cue, CueAccumulator, CueTimeline
from emoscope.data.labels import canonical_name
from emoscope.report.schema import (
    AnalysisModel, CompletenessModel, EpisodeModel, IntervalModel, PersonReport, Report, ResponseModel,
    TransitionsModel, VideoModel,
)
from emoscope.report.timeline import (
    DEFAULT_VALENCE, INTERVAL_NAMES, Episode, count_transitions, dominant_per_part, episodes, mean_per_part,
)
from emoscope.video.results import FrameResult


class ReportOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parts: int = Field(40, ge=1, description="equal slices of the video with a dominant emotion each")
    min_episode_s: float = Field(0.5, ge=0, allow_inf_nan=False, description="shorter runs of one label are flickers")
    min_person_s: float = Field(1.0, ge=0, allow_inf_nan=False,
                                description="tracks seen for less time are dropped as spurious")
    valence: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_VALENCE),
                                    description="+1 positive, -1 negative, 0 neither; hard transitions cross signs")


@dataclass
class _PersonSeries:
    times: array = field(default_factory=lambda: array("d"))
    probs: array = field(default_factory=lambda: array("f"))
    cues: list[CueAccumulator] = field(default_factory=list)  # one per enabled cue, in the builder's order


def partial_note(completeness: CompletenessModel, fps: float) -> str:
    gaps = [f"frames {first}-{last} ({first / fps:.1f}-{(last + 1) / fps:.1f} s)"
            for first, last in completeness.skipped]
    if completeness.missing_at_end:
        gaps.append(f"the last {completeness.missing_at_end} frames")
    return (f"partial: {completeness.frames_decoded} of {completeness.frames_expected} frames could be decoded; "
            f"not analysed: {', '.join(gaps)} (a damaged or truncated file)")


def calm_label(classes: list[str]) -> str | None:
    """The class that means "no expression" (neutral, or calm for a panic model), if the model has one."""
    return next((c for c in classes if canonical_name(c) == "neutral"), None)


def stored_section(key: str, section):
    """A cue's section as a report holds it. ``PersonReport`` validates the sections it declares into
    their models; any other cue's section is an extra field, kept as the plain JSON data it is written
    as, so a report just built equals the same report read back from its JSON."""
    if key in PersonReport.model_fields or not isinstance(section, BaseModel):
        return section
    return section.model_dump(mode="json")


class ReportBuilder:
    """``cues``: the analysis loop's cues (:attr:`FrameAnalyzer.cues`); each enabled one adds its
    section to every person, a disabled one reports ``None`` (not measured)."""

    def __init__(self, classes: list[str], frame_dt: float, options: ReportOptions | None = None,
                 cues: list[Cue] = ()):
        self.classes = list(classes)
        self.frame_dt = frame_dt
        self.options = options or ReportOptions()
        self.cues = list(cues)
        self._enabled = [cue for cue in self.cues if cue.enabled]
        self.people: dict[int, _PersonSeries] = {}
        self.frames = 0
        self.last_time = 0.0  # of the latest analysed frame
        self.crowd_alerts: list[dict] = []

    def add(self, result: FrameResult) -> None:
        self.frames += 1
        self.last_time = max(self.last_time, result.time)
        self.crowd_alerts.extend(result.events)
        for face in result.faces:
            person = self.people.get(face.track_id)
            if person is None:
                person = _PersonSeries(cues=[cue.accumulator() for cue in self._enabled])
                self.people[face.track_id] = person
            person.times.append(result.time)
            person.probs.extend(np.asarray(face.smoothed, dtype=np.float32).tolist())
            for summary in person.cues:
                summary.add(result.time, face.data)

    def build(self, video: VideoModel, analysis: AnalysisModel, metadata: dict[str, str] | None = None,
              completeness: CompletenessModel | None = None, analysed_until: float | None = None) -> Report:
        """``completeness``: how much of the source could be decoded; a partial one adds a warning note.
        ``analysed_until``: where a run asked to stop early (``max_seconds``) ended: the intervals and parts
        divide the part analysed, not the whole video (whose last four fifths were never looked at)."""
        duration = min(filter(None, (video.duration, analysed_until)), default=self.frames * self.frame_dt)
        if self.last_time >= duration:
            # a container that under-counts its frames, or a stream that paused: the video lasts at
            # least until its last frame ends, so no frame falls past the last part or interval
            duration = self.last_time + self.frame_dt
        people, notes, seen_at = [], [], []
        for track_id, series in sorted(self.people.items()):
            visible = len(series.times) * self.frame_dt
            if visible < self.options.min_person_s:
                notes.append(f"track {track_id} seen for only {visible:.2f} s; dropped as a spurious detection")
                continue
            people.append(self._person(track_id, series, duration))
            seen_at.append(np.array(series.times))
        # a frame shows a face when a kept person is in it; spurious detections do not count
        times_with_face = np.unique(np.concatenate(seen_at)) if seen_at else np.zeros(0)
        if not people:
            notes.append("no face was found" + (" (only spurious detections)" if self.people else ""))
        if completeness is not None and not completeness.complete:
            notes.insert(0, partial_note(completeness, video.fps))
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
            completeness=completeness,
        )

    def _person(self, track_id: int, series: _PersonSeries, duration: float) -> PersonReport:
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
        calm = calm_label(self.classes)
        first_expression = next((e for e in eps if e.label != calm), None)
        sections = {cue.report_key: stored_section(cue.report_key, summary.section(self.frame_dt))
                    for cue, summary in zip(self._enabled, series.cues)}
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
            response=ResponseModel(
                first_visible_s=float(times[0]),
                first_expression_s=first_expression.start if first_expression else None,
                first_expression=first_expression.label if first_expression else None,
            ),
            **sections,
        )

    def cue_timelines(self, track_id: int) -> list[CueTimeline]:
        """The charts the person's cue summaries offer (e.g. the head-pose timeline)."""
        timelines = (summary.timeline() for summary in self.people[track_id].cues)
        return [timeline for timeline in timelines if timeline is not None]

    def series(self, track_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(times, smoothed probabilities) of one person, for charts."""
        s = self.people[track_id]
        times = np.array(s.times, dtype=np.float64)
        return times, np.array(s.probs, dtype=np.float32).reshape(len(times), len(self.classes))


def _episode(e: Episode) -> EpisodeModel:
    return EpisodeModel(label=e.label, start=e.start, duration=e.duration)
