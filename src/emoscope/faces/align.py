"""Face crops for a classifier: square, margin added, rotated so the eyes are level, sized to the spec."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from emoscope.faces.detections import Detections
from emoscope.faces.images import as_bgr
from emoscope.runtime.preprocess import resize
from emoscope.runtime.spec import ModelSpec

CLAHE_CLIP = 2.0
CLAHE_TILES = 4
"""CLAHE runs on the final crop (e.g. 48x48), so 4x4 tiles are about one facial feature each,
whatever the face's size in the photo."""
FRAMING_VIEWS = (1.0, 0.9, 1.1)
"""Zooms of the detector's framing that framing views average the model over. A detector's square
scatters about the face the models were trained on (`emoscope bench pipeline` reports the spread:
the middle 80% of MediaPipe's sides are 0.84-1.25x the true side on PrivateTest placements), so
averaging over a tighter and a looser crop, cut from the image itself, makes a face's prediction
depend less on where in that scatter its square fell (`emoscope bench pipeline --framing-views`)."""


def eye_roll_degrees(keypoints: np.ndarray) -> float:
    """The head's in-plane roll: the angle of the right-eye -> left-eye line against the horizontal
    (positive when the subject's left eye, on the image right, is lower)."""
    dx, dy = keypoints[1] - keypoints[0]
    return math.degrees(math.atan2(dy, dx))


def square_crop(image: np.ndarray, centre: tuple[float, float], side: float, roll_degrees: float = 0.0,
                gray: bool = False) -> np.ndarray:
    """The ``side``-pixel square about ``centre``, rotated by ``roll_degrees`` about it; parts outside
    the image repeat its edge. ``gray`` converts to one channel first, only the region the square can
    reach (cheaper than the whole frame, and warping one channel is ~3x cheaper than three)."""
    import cv2

    cx, cy = centre
    out_side = max(1, round(side))
    # Any rotation of the square stays within half its diagonal of the centre. Where this region is
    # cut by the image border, replicating the region's edge is replicating the image's edge.
    reach = side * 0.7072 + 2
    left, top = max(0, int(cx - reach)), max(0, int(cy - reach))
    region = image[top : min(image.shape[0], int(cy + reach) + 1), left : min(image.shape[1], int(cx + reach) + 1)]
    if gray and region.ndim == 3:
        region = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY)
    # One warp does rotation and crop: rotate about the face centre, then move that centre to the
    # middle of the output. Rotating by the roll itself turns the eye line horizontal.
    centre = (cx - left, cy - top)
    matrix = cv2.getRotationMatrix2D(centre, roll_degrees, 1.0)
    matrix[:, 2] += (out_side / 2.0 - centre[0], out_side / 2.0 - centre[1])
    return cv2.warpAffine(region, matrix, (out_side, out_side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _equalise(crop: np.ndarray, clahe) -> np.ndarray:
    import cv2

    if crop.ndim == 2:
        return clahe.apply(crop)
    lab = cv2.cvtColor(crop, cv2.COLOR_BGR2LAB)  # equalise lightness only, leave the colours alone
    lab[:, :, 0] = clahe.apply(lab[:, :, 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)


def crop_faces(image_bgr: np.ndarray, detections: Detections, spec: ModelSpec, align: bool = True,
               clahe: bool = False, zooms: Sequence[float] = (1.0,)) -> list[np.ndarray]:
    """One uint8 crop per detection and zoom, ready for ``Predictor.predict_proba``: ``spec.img_size``
    square, framed as the detector's :class:`~emoscope.faces.detections.CropFraming` says the models
    were trained on, its side times each of ``zooms`` (a face's crops are consecutive, see
    :func:`mean_over_views`); gray (HxW) for a 1-channel model, else BGR; eyes levelled when
    ``align`` and keypoints exist; ``clahe`` adds contrast-limited histogram equalisation."""
    import cv2

    if len(detections) == 0:
        return []
    image = as_bgr(image_bgr)
    equaliser = cv2.createCLAHE(clipLimit=CLAHE_CLIP, tileGridSize=(CLAHE_TILES, CLAHE_TILES)) if clahe else None
    use_roll = align and detections.keypoints is not None
    crops = []
    for index, box in enumerate(detections.boxes):
        roll = eye_roll_degrees(detections.keypoints[index]) if use_roll else 0.0
        cx, cy, side = detections.framing.square(box)
        for zoom in zooms:
            crop = resize(square_crop(image, (cx, cy), side * zoom, roll, gray=spec.in_chans == 1), spec.img_size)
            crops.append(_equalise(crop, equaliser) if equaliser is not None else crop)
    return crops


def framing_zooms(framing_views: bool) -> tuple[float, ...]:
    """The ``zooms`` for :func:`crop_faces`: :data:`FRAMING_VIEWS` with framing views, else one crop."""
    return FRAMING_VIEWS if framing_views else (1.0,)


def mean_over_views(probs: np.ndarray, views: int) -> np.ndarray:
    """One row per face from the rows of its ``views`` consecutive crops (:func:`crop_faces` with
    that many zooms): the mean of their probabilities."""
    return probs.reshape(-1, views, probs.shape[-1]).mean(axis=1)


def classify_views(predictor, crops: list[np.ndarray], views: int, **predict_options) -> np.ndarray:
    """One row of ``predictor``'s probabilities per face from its ``views`` consecutive crops
    (``predict_options`` go to ``predict_proba``, e.g. ``tta``); no model call when there are no crops."""
    if not crops:
        return np.zeros((0, len(predictor.classes)), np.float32)
    return mean_over_views(predictor.predict_proba(crops, **predict_options), views)
