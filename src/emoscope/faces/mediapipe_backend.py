"""MediaPipe face detection (BlazeFace), short or full range, with its models bundled in the wheel."""

from __future__ import annotations

from functools import partial

import numpy as np

from emoscope.faces.base import BaseDetector
from emoscope.faces.detections import CropFraming, Detections
from emoscope.faces.mediapipe_solutions import SolutionRunner
from emoscope.faces.registry import register_detector

MOUTH_HALF_WIDTH = 0.415
"""MediaPipe gives the mouth centre, not its corners: each corner is put this fraction of the
eye-to-eye vector to the side of the centre (mouth width / eye distance is about 0.83 in the
standard 5-point face template). An approximation, good enough for alignment and display."""


def to_five_points(six: np.ndarray) -> np.ndarray:
    """MediaPipe's ``(N, 6, 2)`` right eye, left eye, nose tip, mouth centre, right and left ear
    tragion -> ``(N, 5, 2)`` right eye, left eye, nose, mouth right, mouth left."""
    right_eye, left_eye, nose, mouth = six[:, 0], six[:, 1], six[:, 2], six[:, 3]
    half_mouth = MOUTH_HALF_WIDTH * (left_eye - right_eye)
    return np.stack([right_eye, left_eye, nose, mouth - half_mouth, mouth + half_mouth], axis=1)


# Both models' boxes are tighter than FER2013's crops and sit low on the face (brows to below the mouth).
SHORT_RANGE_FRAMING = CropFraming(scale=1.228, dx=-0.018, dy=-0.118)
FULL_RANGE_FRAMING = CropFraming(scale=1.174, dx=-0.004, dy=-0.068)


class MediaPipeDetector(BaseDetector):
    """``full_range=False``: faces within ~2 m (128x128 model, fast); ``True``: within ~5 m.
    ``tiles`` (on): a frame with no face found is searched again in tiles (see :class:`BaseDetector`)."""

    def __init__(self, full_range: bool = False, min_score: float = 0.5, tiles: bool = True, **kwargs):
        super().__init__(min_score, tiles=tiles, **kwargs)
        self.name = "mediapipe-full" if full_range else "mediapipe"
        self.framing = FULL_RANGE_FRAMING if full_range else SHORT_RANGE_FRAMING
        self._detector = SolutionRunner(lambda mp: mp.solutions.face_detection.FaceDetection(
            model_selection=int(full_range), min_detection_confidence=min_score), findings="detections")

    def _detect(self, image_bgr: np.ndarray) -> Detections:
        height, width = image_bgr.shape[:2]
        found = self._detector.process(image_bgr).detections
        if not found:
            return Detections.empty()
        scale = np.array([width, height], dtype=np.float32)
        boxes, scores, keypoints = [], [], []
        for detection in found:
            box = detection.location_data.relative_bounding_box
            boxes.append((box.xmin, box.ymin, box.xmin + box.width, box.ymin + box.height))
            scores.append(detection.score[0])
            keypoints.append([(p.x, p.y) for p in detection.location_data.relative_keypoints])
        boxes = np.asarray(boxes, dtype=np.float32) * np.tile(scale, 2)
        six = np.asarray(keypoints, dtype=np.float32) * scale
        return Detections(boxes, np.asarray(scores, dtype=np.float32), to_five_points(six))

    def close(self) -> None:
        self._detector.close()


register_detector("mediapipe", partial(MediaPipeDetector, full_range=False),
                  "short range (faces within ~2 m: webcam, interview), the default and the fastest")
register_detector("mediapipe-full", partial(MediaPipeDetector, full_range=True),
                  "full range (~5 m: group photos, small faces)")
