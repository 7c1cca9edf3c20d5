"""How well the landmark rules (or the landmark model) read generated hands: per letter, the share recognised; per look-alike,
the share taken for one of the four letters; both split by hand (right/left) and facing (palm/back).
``tools/gesture_table.py`` writes the result into ``docs/gestures.md``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from emoscope.gestures.classifier import GestureOptions, decide
from emoscope.gestures.kinematics import FACINGS, HANDS, LETTER_SIGNS, SIGNS, generate
from emoscope.gestures.landmark_model import LandmarkModel
from emoscope.gestures.landmarks import hand_shape

Judge = Callable[[np.ndarray], "str | None"]


def landmark_letter(landmarks: np.ndarray, shape_of: Callable = hand_shape) -> str | None:
    """The rules route's verdict on one hand: a letter or None (unknown). ``shape_of`` swaps in
    other rules (an earlier commit's, for the before/after table)."""
    return decide({}, shape_of(landmarks).letter_scores(), GestureOptions(route="rules"))[1]


def model_letter(model: LandmarkModel) -> Judge:
    """The landmark model's verdict (the combined route on a camera hand)."""
    options = GestureOptions(route="landmarks")
    return lambda landmarks: decide({}, hand_shape(landmarks).letter_scores(), options,
                                    model.probabilities(landmarks))[1]


@dataclass(frozen=True)
class Reading:
    label: str
    variant: str
    hand: str
    facing: str
    read_as: str | None

    @property
    def is_letter(self) -> bool:
        return self.label in LETTER_SIGNS

    @property
    def success(self) -> bool:
        """A letter read as itself; a look-alike read as none of the letters."""
        return self.read_as == self.label if self.is_letter else self.read_as is None


def read_generated(count: int = 400, seed: int = 0, judge: Judge = landmark_letter) -> list[Reading]:
    """``count`` generated hands of every letter and look-alike, each read by ``judge``."""
    return [Reading(label, hand.variant, hand.view.hand, hand.view.facing, judge(hand.landmarks))
            for label in SIGNS for hand in generate(label, count, seed)]


def share(readings: list[Reading], hit: Callable[[Reading], bool]) -> float:
    return sum(map(hit, readings)) / max(len(readings), 1)


def headline(readings: list[Reading]) -> dict[str, float]:
    """Per shape: a letter's accuracy, or the share of a look-alike taken for a letter."""
    return {label: share(group, lambda r: r.success) if group[0].is_letter else share(group, lambda r: not r.success)
            for label, group in _groups(readings, lambda r: r.label).items()}


def _groups(readings: list[Reading], key: Callable[[Reading], object]) -> dict[object, list[Reading]]:
    groups: dict[object, list[Reading]] = {}
    for reading in readings:
        groups.setdefault(key(reading), []).append(reading)
    return groups


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _misreadings(group: list[Reading]) -> str:
    wrong = Counter(r.read_as or "unknown" for r in group if not r.success)
    return ", ".join(f"{read} {_percent(n / len(group))}" for read, n in wrong.most_common(3)) or "-"


def markdown(readings: list[Reading]) -> str:
    """Two tables: per shape and view, then per variant."""
    views = [(hand, facing) for hand in HANDS for facing in FACINGS]
    lines = ["| shape | measure | " + " | ".join(f"{h} hand, {f}" for h, f in views) + " | all | wrong readings |",
             "| --- " * (len(views) + 4) + "|"]
    for label, group in _groups(readings, lambda r: r.label).items():
        value = (lambda g: share(g, lambda r: r.success)) if group[0].is_letter else \
            (lambda g: share(g, lambda r: not r.success))
        by_view = _groups(group, lambda r: (r.hand, r.facing))
        cells = [_percent(value(by_view[view])) for view in views]
        measure = "recognised" if group[0].is_letter else "taken for A/F/L/V"
        lines.append(f"| {label} | {measure} | " + " | ".join(cells) + f" | **{_percent(value(group))}** | "
                     f"{_misreadings(group)} |")
    lines += ["", "| shape | variant | hands | read right | wrong readings |", "| --- | --- | --- | --- | --- |"]
    for (label, variant), group in _groups(readings, lambda r: (r.label, r.variant)).items():
        lines.append(f"| {label} | {variant} | {len(group)} | {_percent(share(group, lambda r: r.success))} | "
                     f"{_misreadings(group)} |")
    return "\n".join(lines) + "\n"
