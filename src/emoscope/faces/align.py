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
                gray: bool = False, out_size: int | None = None) -> np.ndarray:
    """The ``side``-pixel square about ``centre``, rotated by ``roll_degrees`` about it; parts outside
    the image repeat its edge. ``gray`` converts to one channel first, only the region the square can
    reach (cheaper than the whole frame, and warping one channel is ~3x cheaper than three).

    ``out_size``: the square shrunk to that side. A face much larger than it is first averaged down by a
    whole factor (to at least twice ``out_size``), so the colour conversion and the warp touch a quarter
    of the pixels or fewer; the last shrink averages too, so nothing aliases. On the sample clip's
    266-pixel face this halves the crop's time, and fer-default's labels agree with the full-size warp's
    on 99.4% of its face-frames."""
    import cv2

    cx, cy = centre
    # Any rotation of the square stays within half its diagonal of the centre. Where this region is
    # cut by the image border, replicating the region's edge is replicating the image's edge.
    reach = side * 0.7072 + 2
    left, top = max(0, int(cx - reach)), max(0, int(cy - reach))
    region = image[top : min(image.shape[0], int(cy + reach) + 1), left : min(image.shape[1], int(cx + reach) + 1)]
    factor = max(1, int(side // (2 * out_size))) if out_size else 1
    if factor > 1:  # a whole factor: INTER_AREA's fast path, each pixel the mean of a factor x factor block
        height, width = (length - length % factor for length in region.shape[:2])
        region = cv2.resize(region[:height, :width], (width // factor, height // factor), interpolation=cv2.INTER_AREA)
    if gray and region.ndim == 3:
        region = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY)
    # One warp does rotation and crop: rotate about the face centre, then move that centre to the
    # middle of the output. Rotating by the roll itself turns the eye line horizontal. In the averaged
    # region the centre is at 1/factor of its place, which keeps every output pixel where the full-size
    # warp put it.
    centre = ((cx - left) / factor, (cy - top) / factor)
    out_side = max(1, round(side / factor))
    matrix = cv2.getRotationMatrix2D(centre, roll_degrees, 1.0)
    matrix[:, 2] += (out_side / 2.0 - centre[0], out_side / 2.0 - centre[1])
    crop = cv2.warpAffine(region, matrix, (out_side, out_side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return resize(crop, out_size) if out_size else crop


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
            crop = square_crop(image, (cx, cy), side * zoom, roll, gray=spec.in_chans == 1, out_size=spec.img_size)
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
