"""The face-detector interface and the input/output handling every backend shares."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Protocol, runtime_checkable

import numpy as np

from emoscope.errors import EmoscopeError
from emoscope.faces.detections import CropFraming, Detections, nms
from emoscope.faces.images import as_bgr


@runtime_checkable
class FaceDetector(Protocol):
    name: str

    def detect(self, image_bgr: np.ndarray) -> Detections: ...

    def close(self) -> None: ...


WORKING_SIDE = 1280
"""Larger images are shrunk to this longest side before detection: every backend's cost grows with
the pixel count, and faces big enough to classify stay far above the detectors' minimum sizes."""


TILE_SHARE = 0.75
"""The second pass's tiles: squares this share of the frame's shorter side, overlapping by half."""
TILE_NMS_IOU = 0.3
CLOSE_UP_BORDER = 0.5
"""The close-up pass adds a border (edges repeated) this share of the image's longer side on every side."""


def tile_origins(height: int, width: int) -> tuple[int, list[tuple[int, int]]]:
    """The second pass's tile side and top-left corners (x, y): rows and columns at half-tile
    steps, the last flush with the frame's edge."""
    side = max(1, int(min(height, width) * TILE_SHARE))
    steps = [np.linspace(0, dim - side, max(1, math.ceil(2 * dim / side) - 1)).astype(int) for dim in (width, height)]
    return side, [(int(x), int(y)) for y in steps[1] for x in steps[0]]


class BaseDetector:
    """What every backend shares: accept gray/BGR/BGRA, work on a bounded image size, drop low
    scores, clip to the image. Subclasses implement :meth:`_detect` on a uint8 HxWx3 BGR image.

    ``tiles``: when the whole frame shows no face, look again in overlapping tiles. A detector whose
    input is a small fixed size (MediaPipe's 128x128) sees a face a sixth of the frame wide as
    ~20 px and misses it; in a tile it is about twice as large. Costs the tiles' passes on
    frames without faces only.

    ``close_ups`` (photos): when the whole image shows no face, look again (before any tiles) with a
    border around it. A face that fills the photo (a portrait, a face already cropped) is too large for the
    detectors' anchors; with the border it is the size they expect. The border's share was chosen on
    the development part of the real-face set (docs/real-faces.md), where MediaPipe full range
    otherwise finds under a fifth of the faces.
    """

    name = ""
    framing = CropFraming()
    """How this backend's boxes sit on a face; stamped on every :class:`Detections` it returns."""

    def __init__(self, min_score: float = 0.5, working_side: int = WORKING_SIDE, tiles: bool = False,
                 close_ups: bool = False):
        if not 0.0 <= min_score <= 1.0:
            raise EmoscopeError(f"min_score must be in [0, 1], got {min_score}")
        self.min_score = min_score
        self.working_side = working_side
        self.tiles = tiles
        self.close_ups = close_ups

    def _detect(self, image_bgr: np.ndarray) -> Detections:
        raise NotImplementedError

    def detect(self, image_bgr: np.ndarray) -> Detections:
        image = as_bgr(image_bgr)
        height, width = image.shape[:2]
        if height == 0 or width == 0:
            return Detections.empty()
        shrink = min(1.0, self.working_side / max(height, width))
        if shrink < 1.0:
            import cv2

            image = cv2.resize(image, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
        image = np.ascontiguousarray(image)
        found = self._confident(self._detect(image))
        if len(found) == 0 and self.close_ups:  # before the tiles, which would find parts of a large face
            found = self._detect_with_border(image)
        if len(found) == 0 and self.tiles:
            found = self._detect_in_tiles(image)
        return replace(found, framing=self.framing).scaled(1.0 / shrink).clipped(width, height)

    def _confident(self, found: Detections) -> Detections:
        return found.select(found.scores >= self.min_score)

    def _detect_with_border(self, image: np.ndarray) -> Detections:
        import cv2

        border = int(CLOSE_UP_BORDER * max(image.shape[:2]))
        framed = cv2.copyMakeBorder(image, border, border, border, border, cv2.BORDER_REPLICATE)
        found = self._confident(self._detect(framed))
        shift = np.array([border, border], np.float32)
        return Detections(found.boxes - np.tile(shift, 2), found.scores,
                          None if found.keypoints is None else found.keypoints - shift)

    def _detect_in_tiles(self, image: np.ndarray) -> Detections:
        side, origins = tile_origins(*image.shape[:2])
        parts = []
        for x, y in origins:
            found = self._confident(self._detect(np.ascontiguousarray(image[y : y + side, x : x + side])))
            if len(found) == 0:
                continue
            shift = np.array([x, y], np.float32)
            parts.append((found.boxes + np.tile(shift, 2), found.scores,
                          None if found.keypoints is None else found.keypoints + shift))
        if not parts:
            return Detections.empty()
        boxes = np.concatenate([boxes for boxes, _, _ in parts])
        scores = np.concatenate([scores for _, scores, _ in parts])
        keypoints = None if any(kp is None for _, _, kp in parts) else np.concatenate([kp for _, _, kp in parts])
        merged = Detections(boxes, scores, keypoints)
        # a face in the overlap of two tiles is found twice
        return merged.select(nms(merged.boxes, merged.scores, TILE_NMS_IOU))

    def close(self) -> None:
        """Release native resources; the detector cannot be used afterwards."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, min_score={self.min_score})"
