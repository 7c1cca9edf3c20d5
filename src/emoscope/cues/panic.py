"""Panic in video: which outputs make the panic score, the per-person cue, and the crowd view.

Per person, the score goes through a :class:`~emoscope.cues.debounce.Debouncer` (enter after N
frames above the threshold, leave after M below); the crowd monitor raises an alert event when
enough of the visible faces are in panic (sinks deliver it: :class:`emoscope.video.sinks.AlertSink`).

What "panic" means is defined once, in :data:`emoscope.data.labels.PANIC_CLASSES` (default: fear).
It is read from a facial expression only — posed or suppressed expressions fool it, and it has no
physiological signal — so treat an alert as "look at this", not as a diagnosis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, Field

from emoscope.cues.base import Cue, CueAccumulator, CueOptions, FaceObservation, cue_option, register_cue
from emoscope.cues.debounce import Debouncer, EpisodeLog
from emoscope.data.labels import PANIC_CLASSES, canonical_name
from emoscope.errors import EmoscopeError


def panic_columns(classes: Sequence[str], panic_classes: Sequence[str] = PANIC_CLASSES) -> list[int]:
    """Columns of a model's output that add up to the panic probability.

    A binary panic model (classes calm, panic) gives its own column; an expression model gives the
    sum of its panic classes' probabilities.
    """
    if list(classes) == ["calm", "panic"]:
        return [1]
    wanted = {canonical_name(c) for c in panic_classes}
    columns = [i for i, c in enumerate(classes) if c in wanted]
    if not columns:
        raise EmoscopeError(f"the model's classes ({', '.join(classes)}) include none of the panic classes "
                            f"({', '.join(sorted(wanted))})")
    return columns


@dataclass
class CrowdAlert:
    time: float
    faces: int
    in_panic: int

    @property
    def share(self) -> float:
        return self.in_panic / self.faces if self.faces else 0.0

    def as_dict(self) -> dict:
        return {"event": "crowd_panic", "time": round(self.time, 3), "faces": self.faces,
                "in_panic": self.in_panic, "share": round(self.share, 3)}


@dataclass
class CrowdMonitor:
    """Raises an alert when the share of visible faces in panic reaches ``level`` (with at least
    ``min_faces`` faces in view), then stays quiet for ``cooldown_s`` seconds."""

    level: float = 0.3
    min_faces: int = 1
    cooldown_s: float = 10.0
    alerts: list[CrowdAlert] = field(default_factory=list)

    def update(self, time: float, faces: int, in_panic: int) -> CrowdAlert | None:
        if faces < self.min_faces or in_panic / max(faces, 1) < self.level:
            return None
        if self.alerts and time - self.alerts[-1].time < self.cooldown_s:
            return None
        alert = CrowdAlert(time, faces, in_panic)
        self.alerts.append(alert)
        return alert


class PanicModel(BaseModel):
    mean_score: float = Field(description="mean smoothed panic score (probability of the panic classes)")
    max_score: float
    count: int = Field(description="panic episodes")
    total_seconds: float
    episodes: list[tuple[float, float]] = Field(description="(start, end) seconds")


class _PanicAccumulator(CueAccumulator):
    def __init__(self):
        self.scores: list[float] = []
        self.log = EpisodeLog()

    def add(self, time: float, values: dict) -> None:
        if values.get("panic") is not None:
            self.scores.append(values["panic"])
            self.log.add(values["panic_started"], values["panic_active"] and values["panic_above"], time)

    def section(self, frame_dt: float) -> PanicModel | None:
        if not self.scores:
            return None
        scores = np.array(self.scores, dtype=np.float32)
        return PanicModel(mean_score=float(scores.mean()), max_score=float(scores.max()), **self.log.summary(frame_dt))


@register_cue
class Panic(Cue):
    """The smoothed panic score per face with episodes (hysteresis per track), and crowd alerts."""

    name = "panic"

    class Options(CueOptions):
        panic: bool = cue_option(False, "score panic per person (hysteresis) and raise crowd alerts", flag=True)
        panic_classes: list[str] = cue_option(list(PANIC_CLASSES), "expressions whose probabilities add up to "
                                              "the panic score")
        panic_threshold: float = cue_option(0.5, "panic score that counts as panic (see `emoscope panic`)",
                                            flag=True, gt=0, le=1)
        panic_enter_frames: int = cue_option(5, "frames above the threshold that start an episode", ge=1)
        panic_exit_frames: int = cue_option(10, "frames below it that end an episode", ge=1)
        crowd_level: float = cue_option(0.3, "share of visible faces in panic that raises an alert", flag=True,
                                        gt=0, le=1)

    columns = (("panic", "value"), ("panic_active", "flag"))
    report_key = "panic"
    title = "panic"
    not_measured = "not scored"

    def __init__(self, options, classes):
        super().__init__(options, classes)
        self.columns_of_panic = panic_columns(classes, self.settings.panic_classes) if self.enabled else []
        self.crowd = CrowdMonitor(self.settings.crowd_level)

    def update(self, face: FaceObservation) -> dict:
        score = float(face.smoothed[self.columns_of_panic].sum())
        debouncer = self.tracks.setdefault(
            face.track_id, Debouncer(self.settings.panic_enter_frames, self.settings.panic_exit_frames))
        above = score >= self.settings.panic_threshold
        started = debouncer.update(above, face.time)
        return {"panic": score, "panic_above": above, "panic_active": debouncer.active, "panic_started": started}

    def end_frame(self, time: float, faces: list[dict]) -> list[dict]:
        if not faces:
            return []
        alert = self.crowd.update(time, len(faces), sum(face["panic_active"] for face in faces))
        return [] if alert is None else [alert.as_dict()]

    def accumulator(self) -> CueAccumulator:
        return _PanicAccumulator()

    def describe(self, section: PanicModel) -> str:
        return (f"{section.count} episode(s), {section.total_seconds:.1f} s; max score {section.max_score:.2f}"
                + "".join(f"; {a:.1f}-{b:.1f} s" for a, b in section.episodes))
