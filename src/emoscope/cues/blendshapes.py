"""The 52 facial blendshape scores of Google's Face Landmarker bundle, per face and frame (off by default:
``AnalysisOptions(blendshapes=True)``, ``emoscope analyze --blendshapes``).

The bundle's blendshape network reads 146 of the video loop's face-mesh points and gives 52 scores in
[0, 1] (see :mod:`emoscope.faces.blendshapes`): the frame table gets them as ``bs_<name>`` columns,
e.g. ``bs_mouthSmileLeft``, ``bs_eyeBlinkLeft``. The report gives, per person and blendshape, the mean,
the peak and its time, and the change from the person's own neutral baseline: the median over the
frames whose smoothed expression is the model's calm class (neutral), or over all the person's frames
when there are none, as for the facial-movement measures. The HTML report charts the scores of
:data:`CHARTED` over time. They are not FACS-coded action units and were not validated against
AU-coded data (docs/blendshapes.md lists rough correspondences).

A switched-off cue here has no frame-table columns (unlike the others): 52 empty columns in every
table would swamp the default output.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from emoscope.cues.base import (MESH, Cue, CueAccumulator, CueOptions, CueTimeline, FaceObservation,
                                cue_option, register_cue)
from emoscope.data.labels import canonical_name
from emoscope.faces.blendshapes import BLENDSHAPE_NAMES, BlendshapeNetwork, bundle_bytes

COLUMNS = tuple(f"bs_{name}" for name in BLENDSHAPE_NAMES)
CHARTED = ("mouthSmileLeft", "mouthSmileRight", "eyeBlinkLeft", "eyeBlinkRight", "browInnerUp", "jawOpen")
_CALM_KEY = "blendshapes_calm"
TOP = 5


class BlendshapeStats(BaseModel):
    mean: float
    baseline: float = Field(description="median over the baseline frames")
    mean_change: float = Field(description="mean of score - baseline")
    p90_change: float
    peak: float = Field(description="highest score")
    peak_s: float = Field(description="when the peak was, seconds from the start of the video")


class BlendshapesModel(BaseModel):
    measured_frames: int = Field(description="frames with a face mesh, so with scores")
    baseline_frames: int = Field(description="frames the baseline was taken from")
    baseline_from: str = Field(description="'neutral frames', or 'all frames' when the person had none")
    most_raised: list[str] = Field(description=f"the {TOP} blendshapes with the largest mean change over the baseline")
    blendshapes: dict[str, BlendshapeStats]


class _BlendshapeAccumulator(CueAccumulator):
    def __init__(self):
        self.times: list[float] = []
        self.scores: list[list[float]] = []
        self.calm: list[bool] = []

    def add(self, time: float, values: dict) -> None:
        if values.get(COLUMNS[0]) is not None:
            self.times.append(time)
            self.scores.append([values[column] for column in COLUMNS])
            self.calm.append(values[_CALM_KEY])

    def section(self, frame_dt: float) -> BlendshapesModel | None:
        if not self.scores:
            return None
        scores, calm, times = np.array(self.scores, np.float32), np.array(self.calm), np.array(self.times)
        reference = scores[calm] if calm.any() else scores
        baseline = np.median(reference, axis=0)
        change = scores - baseline
        mean_change = change.mean(axis=0)
        peaks = scores.argmax(axis=0)
        stats = {name: BlendshapeStats(mean=float(scores[:, i].mean()), baseline=float(baseline[i]),
                                       mean_change=float(mean_change[i]),
                                       p90_change=float(np.percentile(change[:, i], 90)),
                                       peak=float(scores[peaks[i], i]), peak_s=float(times[peaks[i]]))
                 for i, name in enumerate(BLENDSHAPE_NAMES)}
        return BlendshapesModel(measured_frames=len(scores), baseline_frames=len(reference),
                                baseline_from="neutral frames" if calm.any() else "all frames",
                                most_raised=[BLENDSHAPE_NAMES[i] for i in np.argsort(-mean_change)[:TOP]],
                                blendshapes=stats)

    def timeline(self) -> CueTimeline | None:
        if not self.scores:
            return None
        scores = np.array(self.scores, np.float32)
        return CueTimeline("blendshapes", "score (0-1)", np.array(self.times),
                           {name: scores[:, BLENDSHAPE_NAMES.index(name)] for name in CHARTED})


@register_cue
class Blendshapes(Cue):
    """52 blendshape scores per face and frame from the face mesh."""

    name = "blendshapes"

    class Options(CueOptions):
        blendshapes: bool = cue_option(False, "52 facial blendshape scores per face and frame (face mesh; "
                                       "docs/blendshapes.md)", flag=True)

    columns = tuple((column, "value") for column in COLUMNS)
    needs = frozenset({MESH})
    report_key = "blendshapes"
    title = "blendshapes"

    def __init__(self, options, classes):
        super().__init__(options, classes)
        if self.enabled:
            bundle_bytes()  # a damaged bundle stops the run before the video is opened, in one line
        else:
            self.columns = ()
        self._network: BlendshapeNetwork | None = None  # loaded at the first face: a report only describes
        self._calm = next((i for i, c in enumerate(classes) if canonical_name(c) in ("neutral", "calm")), None)

    def update(self, face: FaceObservation) -> dict:
        if face.mesh is None:
            return {}
        if self._network is None:
            self._network = BlendshapeNetwork()
        scores = self._network(face.mesh)
        return dict(zip(COLUMNS, scores.tolist())) | {
            _CALM_KEY: self._calm is not None and int(np.argmax(face.smoothed)) == self._calm}

    def accumulator(self) -> CueAccumulator:
        return _BlendshapeAccumulator()

    def describe(self, section) -> str:
        s = BlendshapesModel.model_validate(section)
        raised = ", ".join(f"{name} {s.blendshapes[name].mean:.2f} ({s.blendshapes[name].mean_change:+.2f}, "
                           f"peak {s.blendshapes[name].peak:.2f} at {s.blendshapes[name].peak_s:.1f} s)"
                           for name in s.most_raised)
        return f"most raised over the baseline ({s.baseline_from}): {raised}"
