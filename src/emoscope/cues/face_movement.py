"""Facial movement measures: brow raise, mouth opening, lip-corner pull and eye opening, from the face
mesh, as continuous signals.

Each is a distance between face-mesh points divided by the distance between the outer eye corners
(points 33 and 263), so it does not depend on the face's size in the picture:

* brow raise: the brow's middle (points 105, 334) above the upper lid's middle (159, 386), both eyes' mean;
* mouth opening: the gap between the inner lips (13, 14);
* lip-corner pull: the mouth's width between its corners (61, 291);
* eye opening: the gap between the lids (159-145, 386-374), both eyes' mean.

The frame table holds these values. The report compares them with the person's own neutral
baseline: the median over the frames whose smoothed expression is the model's calm class (neutral),
or over all the person's frames when there are none, and gives each measure's change from it
(mean, 90th percentile and most), in the same unit. They are measured in the picture: a turned or
tilted head shortens them, so compare them at similar head poses (see the head-pose cue). They are
geometric measures, not FACS action units: nothing here was validated against AU-coded data.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from emoscope.cues.base import MESH, Cue, CueAccumulator, FaceObservation, register_cue
from emoscope.data.labels import canonical_name

EYE_CORNERS = (33, 263)
MEASURES = {
    "brow_raise": ((105, 159), (334, 386)),
    "mouth_open": ((13, 14),),
    "lip_pull": ((61, 291),),
    "eye_open": ((159, 145), (386, 374)),
}
_PAIRS = np.array([EYE_CORNERS] + [pair for pairs in MEASURES.values() for pair in pairs])
_OWNER = np.array([i for i, pairs in enumerate(MEASURES.values()) for _ in pairs])  # the measure of each pair


def face_measures(mesh: np.ndarray) -> dict[str, float] | None:
    """Each measure of one face's ``(478, 2)`` landmarks, in eye-corner distances."""
    distances = np.linalg.norm(mesh[_PAIRS[:, 0]] - mesh[_PAIRS[:, 1]], axis=1)
    scale, distances = float(distances[0]), distances[1:]
    if scale <= 0:
        return None
    means = np.bincount(_OWNER, weights=distances) / np.bincount(_OWNER)
    return dict(zip(MEASURES, (means / scale).tolist()))


class MeasureModel(BaseModel):
    baseline: float = Field(description="median over the neutral frames, eye-corner distances")
    mean_change: float = Field(description="mean of value - baseline")
    p90_change: float
    max_change: float


class FaceMovementModel(BaseModel):
    baseline_frames: int = Field(description="frames the baseline was taken from")
    baseline_from: str = Field(description="'neutral frames', or 'all frames' when the person had none")
    measures: dict[str, MeasureModel]


class _MovementAccumulator(CueAccumulator):
    def __init__(self):
        self.values: list[list[float]] = []
        self.calm: list[bool] = []

    def add(self, time: float, values: dict) -> None:
        if values.get("mouth_open") is not None:
            self.values.append([values[name] for name in MEASURES])
            self.calm.append(values["face_calm"])

    def section(self, frame_dt: float) -> FaceMovementModel | None:
        if not self.values:
            return None
        values, calm = np.array(self.values), np.array(self.calm)
        reference = values[calm] if calm.any() else values
        baseline = np.median(reference, axis=0)
        change = values - baseline
        return FaceMovementModel(
            baseline_frames=len(reference), baseline_from="neutral frames" if calm.any() else "all frames",
            measures={name: MeasureModel(baseline=float(baseline[i]), mean_change=float(change[:, i].mean()),
                                         p90_change=float(np.percentile(change[:, i], 90)),
                                         max_change=float(change[:, i].max()))
                      for i, name in enumerate(MEASURES)})


@register_cue
class FaceMovement(Cue):
    """Brow raise, mouth opening, lip-corner pull and eye opening per face and frame."""

    name = "face_movement"
    switch = ("blinks", "gaze")  # on whenever the face mesh runs for them (0.1 ms a face on top)
    columns = tuple((name, "value") for name in MEASURES)
    needs = frozenset({MESH})
    report_key = "face_movement"
    title = "facial movement"

    def __init__(self, options, classes):
        super().__init__(options, classes)
        self._calm = next((i for i, c in enumerate(classes) if canonical_name(c) in ("neutral", "calm")), None)

    def update(self, face: FaceObservation) -> dict:
        measures = None if face.mesh is None else face_measures(face.mesh)
        if measures is None:
            return {}
        return measures | {"face_calm": self._calm is not None and int(np.argmax(face.smoothed)) == self._calm}

    def accumulator(self) -> CueAccumulator:
        return _MovementAccumulator()

    def describe(self, section) -> str:
        s = FaceMovementModel.model_validate(section)
        changes = ", ".join(f"{name.replace('_', ' ')} {m.baseline:.3f} {m.mean_change:+.3f} (p90 {m.p90_change:+.3f})"
                            for name, m in s.measures.items())
        return f"baseline and mean change from it, eye-corner distances: {changes}; baseline: {s.baseline_from}"
