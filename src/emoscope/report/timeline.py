"""From a person's per-frame expression series to episodes, intervals and transitions.

All functions take plain arrays (times in seconds, one row of probabilities per analysed frame)
so they are easy to test and independent of how frames were produced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INTERVAL_NAMES = ("First", "First-Mid", "Mid", "Mid-Last", "Last")

# Valence groups for transitions. Surprise can be pleasant or not, and neutral has no valence, so
# changes to or from them are soft by default.
DEFAULT_VALENCE = {
    "happy": 1,
    "angry": -1, "disgust": -1, "fear": -1, "sad": -1, "contempt": -1,
    "neutral": 0, "surprise": 0,
}


@dataclass(frozen=True)
class Episode:
    label: str
    start: float
    duration: float

    @property
    def end(self) -> float:
        return self.start + self.duration


def label_runs(times: np.ndarray, labels: list[str], frame_dt: float, max_gap: float) -> list[Episode]:
    """Runs of one label over consecutive frames; a gap longer than ``max_gap`` (face not seen) ends a run."""
    runs: list[Episode] = []
    start = prev = None
    current = None
    for t, label in zip(times, labels):
        t = float(t)
        if current is not None and (label != current or t - prev > max_gap):
            runs.append(Episode(current, start, prev - start + frame_dt))
            current = None
        if current is None:
            current, start = label, t
        prev = t
    if current is not None:
        runs.append(Episode(current, start, prev - start + frame_dt))
    return runs


def episodes(times: np.ndarray, labels: list[str], frame_dt: float, min_duration: float,
             max_gap: float | None = None) -> list[Episode]:
    """Expression episodes lasting at least ``min_duration`` seconds.

    Shorter runs are flickers and are dropped; the same label on both sides of a dropped flicker
    is joined back into one episode (the flicker does not split it).
    """
    max_gap = max(max_gap if max_gap is not None else 1.0, 1.5 * frame_dt)
    kept = [run for run in label_runs(times, labels, frame_dt, max_gap) if run.duration >= min_duration]
    # an absence of the face ends a run, so it must not be joined back across one like a flicker
    times = np.asarray(times, dtype=np.float64)
    after_absence = times[1:][np.diff(times) > max_gap]
    merged: list[Episode] = []
    for run in kept:
        if (merged and merged[-1].label == run.label and run.start - merged[-1].end <= max(min_duration, max_gap)
                and not np.any((after_absence > merged[-1].start) & (after_absence <= run.start))):
            last = merged.pop()
            run = Episode(last.label, last.start, run.end - last.start)
        merged.append(run)
    return merged


def dominant_per_part(times: np.ndarray, probs: np.ndarray, duration: float, parts: int,
                      classes: list[str]) -> list[str | None]:
    """The class with the highest mean probability in each of ``parts`` equal slices of the video
    (None where the person was not seen)."""
    means = mean_per_part(times, probs, duration, parts)
    return [None if m is None else classes[int(np.argmax(m))] for m in means]


def mean_per_part(times: np.ndarray, probs: np.ndarray, duration: float, parts: int) -> list[np.ndarray | None]:
    if duration <= 0:
        duration = float(times.max()) + 1e-6 if len(times) else 1.0
    index = np.minimum((np.asarray(times) / duration * parts).astype(int), parts - 1)
    out: list[np.ndarray | None] = []
    for part in range(parts):
        mask = index == part
        out.append(probs[mask].mean(axis=0) if mask.any() else None)
    return out


def count_transitions(eps: list[Episode], valence: dict[str, int] | None = None) -> tuple[int, int]:
    """(soft, hard) changes between consecutive episodes with different labels.

    Hard: between opposite valence (positive <-> negative). Soft: any other change (to or from a
    zero-valence class such as neutral, or within one valence group).
    """
    valence = DEFAULT_VALENCE if valence is None else valence
    soft = hard = 0
    for before, after in zip(eps, eps[1:]):
        if before.label == after.label:
            continue
        if valence.get(before.label, 0) * valence.get(after.label, 0) < 0:
            hard += 1
        else:
            soft += 1
    return soft, hard
