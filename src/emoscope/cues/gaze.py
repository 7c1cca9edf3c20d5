"""Horizontal gaze direction from the iris position between the eye corners (face-mesh iris)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from emoscope.cues.base import (MESH, Cue, CueAccumulator, CueOptions, FaceObservation, cue_option,
                                register_cue)

# (corner, corner, iris centre) for each eye; refine_landmarks=True adds the iris points 468-477
EYES = ((33, 133, 468), (362, 263, 473))
DIRECTIONS = ("left", "centre", "right")


def iris_position(mesh: np.ndarray) -> float:
    """0 = iris at the image-left corner of the eye, 1 = at the image-right corner; mean of both eyes."""
    positions = []
    for a, b, iris in EYES:
        left, right = sorted((mesh[a, 0], mesh[b, 0]))
        if right - left > 0:
            positions.append((mesh[iris, 0] - left) / (right - left))
    return float(np.mean(positions)) if positions else 0.5


def gaze_direction(mesh: np.ndarray, centre_band: float = 0.1) -> str:
    """'left', 'centre' or 'right' as seen in the video (the camera's view, not the subject's).

    The iris sits near 0.5 when looking at the camera; ``centre_band`` is the half-width of the
    band around 0.5 that still counts as centre.
    """
    position = iris_position(mesh)
    if position < 0.5 - centre_band:
        return "left"
    if position > 0.5 + centre_band:
        return "right"
    return "centre"


class _GazeAccumulator(CueAccumulator):
    def __init__(self):
        self.counts: Counter = Counter()

    def add(self, time: float, values: dict) -> None:
        if values.get("gaze") is not None:
            self.counts[values["gaze"]] += 1

    def section(self, frame_dt: float) -> dict[str, float]:
        total = max(sum(self.counts.values()), 1)
        return {direction: self.counts.get(direction, 0) / total for direction in DIRECTIONS}


@register_cue
class Gaze(Cue):
    """Horizontal gaze direction per frame; the report gives each direction's share of the measured frames."""

    name = "gaze"

    class Options(CueOptions):
        gaze: bool = cue_option(True, "measure gaze direction (face mesh iris)", flag=True)

    columns = (("gaze", "text"),)
    needs = frozenset({MESH})
    report_key = "gaze_share"
    title = "gaze"

    def update(self, face: FaceObservation) -> dict:
        return {} if face.mesh is None else {"gaze": gaze_direction(face.mesh)}

    def accumulator(self) -> CueAccumulator:
        return _GazeAccumulator()

    def describe(self, section: dict[str, float]) -> str:
        return ", ".join(f"{k} {v:.0%}" for k, v in section.items())
