"""Hand crops prepared like Sign Language MNIST: upright, square, the hand filling the frame.

Sign MNIST crops show one hand, fingers up, wrist at the bottom edge, with little margin. A camera
hand can be tilted and anywhere in the frame, so the crop is rotated until the wrist-to-middle-
knuckle axis points up, then cut as a square around the landmarks. The model's own preprocessing
(gray, resize to 28x28 with area averaging) does the rest.
"""

from __future__ import annotations

import numpy as np

CROP_MARGIN = 0.3
"""Extra side length beyond the landmark box: landmarks are joint centres, and Sign MNIST crops
include the fingertips and some wrist."""


def tilt_degrees(landmarks: np.ndarray) -> float:
    """Clockwise angle of the wrist-to-middle-knuckle axis from straight up, in degrees."""
    dx, dy = landmarks[9, :2] - landmarks[0, :2]
    return float(np.degrees(np.arctan2(dx, -dy)))  # image y grows downwards, so "up" is (0, -1)


def crop_transform(landmarks: np.ndarray, margin: float = CROP_MARGIN) -> tuple[np.ndarray, int]:
    """The 2x3 affine map from image pixels to the upright square crop, and the crop's side."""
    import cv2

    centre = landmarks[:, :2].mean(axis=0)
    # OpenCV's positive angle turns counter-clockwise, undoing a clockwise tilt.
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), tilt_degrees(landmarks), 1.0)
    turned = np.c_[landmarks[:, :2], np.ones(len(landmarks))] @ matrix.T
    (x1, y1), (x2, y2) = turned.min(axis=0), turned.max(axis=0)
    side = max(int(round(max(x2 - x1, y2 - y1) * (1 + margin))), 8)
    matrix[:, 2] += side / 2 - np.array([(x1 + x2) / 2, (y1 + y2) / 2])  # box centre -> crop centre
    return matrix, side


def hand_crop(image_bgr: np.ndarray, landmarks: np.ndarray, margin: float = CROP_MARGIN) -> np.ndarray:
    """A square, upright crop around one hand (any side; the predictor resizes it to its input)."""
    import cv2

    matrix, side = crop_transform(landmarks, margin)
    return cv2.warpAffine(image_bgr, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
