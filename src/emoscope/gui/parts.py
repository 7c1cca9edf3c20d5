"""Parts predict: the expression read from each facial part alone, and how much each part drives the
whole-face prediction.

Each part (:data:`emoscope.data.face_parts.PARTS`) has its own shipped model (``part-<part>``),
trained on FER2013 faces cut with the same template this module cuts live face crops with.
Occlusion: the whole-face model's probability of its predicted class, once on the face as it is
and once with each part's box filled with the face's mean grey; the drop is that part's share in
the prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emoscope.data.face_parts import PARTS, TEMPLATE_SIDE, crop_part, mask_part, part_model_name
from emoscope.runtime.preprocess import resize


@dataclass
class PartReading:
    part: str
    crop: np.ndarray  # uint8 gray, the pixels the part model read
    label: str  # the part model's class
    prob: float  # its probability
    masked_prob: float  # the whole face's probability of its class with this part masked
    drop: float  # base probability minus masked_prob: how much the part drives the prediction


@dataclass
class PartsReading:
    label: str  # the whole face's predicted class (of this frame's crop)
    prob: float
    parts: list[PartReading]


def _gray48(face: np.ndarray) -> np.ndarray:
    """The template's frame: gray, 48x48 (the shipped expression models already read exactly this)."""
    import cv2

    gray = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY) if face.ndim == 3 else face
    return resize(gray, TEMPLATE_SIDE)


class PartsReader:
    """The four part models, loaded once; :meth:`read` takes the face crop the whole-face model read."""

    def __init__(self, backend: str = "auto"):
        from emoscope.runtime.predictor import shared_predictor

        self.models = {part: shared_predictor(part_model_name(part), backend) for part in PARTS}

    def read(self, face_crop: np.ndarray, face_predictor) -> PartsReading:
        face = _gray48(face_crop)
        # One batch for the whole-face model: its own input, then that input with each part masked (the
        # template scales to the crop's side, so the mask covers the same feature at any input size).
        views = [face_crop] + [mask_part(face_crop, part) for part in PARTS]
        probs = face_predictor.predict_proba(views)
        k = int(np.argmax(probs[0]))
        base = float(probs[0, k])
        parts = []
        for i, part in enumerate(PARTS, 1):
            crop = crop_part(face, part)
            model = self.models[part]
            part_probs = model.predict_proba([crop])[0]
            j = int(np.argmax(part_probs))
            parts.append(PartReading(part, crop, model.classes[j], float(part_probs[j]), float(probs[i, k]),
                                     base - float(probs[i, k])))
        return PartsReading(face_predictor.classes[k], base, parts)

