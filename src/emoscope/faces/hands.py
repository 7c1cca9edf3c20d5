"""MediaPipe Hands (models bundled in the wheel, nothing downloaded): 21 3-D landmarks per hand."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from emoscope.faces.mediapipe_solutions import SolutionRunner, landmark_pixels


@dataclass(frozen=True)
class Hand:
    landmarks: np.ndarray
    """``(21, 3)`` float32: x, y in pixels; z (depth, smaller = nearer) in the same scale as x."""
    handedness: str  # "Left" or "Right", as MediaPipe reports it for a mirrored (selfie) view
    score: float

    @property
    def box(self) -> tuple[float, float, float, float]:
        """x1, y1, x2, y2 around the landmarks (joint centres, so a little inside the skin)."""
        (x1, y1), (x2, y2) = self.landmarks[:, :2].min(axis=0), self.landmarks[:, :2].max(axis=0)
        return float(x1), float(y1), float(x2), float(y2)

    @property
    def size(self) -> float:
        x1, y1, x2, y2 = self.box
        return max(x2 - x1, y2 - y1)


STILL_RETRY_BORDER = 0.3
"""A still image where no hand is found is searched once more inside a black border this fraction of
its longer side wide: MediaPipe's palm detector misses hands that fill the frame, as a close-up A
fist does (``tests/test_gestures_photos.py`` has one; ``docs/gestures.md`` the real photos)."""


class HandDetector:
    """Finds up to ``max_hands`` hands. ``still=True`` detects afresh in every image (and retries a
    close-up inside a border); ``False`` tracks hands from frame to frame (much faster on video, and
    steadier landmarks)."""

    def __init__(self, still: bool = True, max_hands: int = 2, min_confidence: float = 0.5, complexity: int = 1):
        """``complexity`` 0 is the lighter landmark model (enough to tell a hand on a face; about twice as fast)."""
        self._still = still
        self._hands = SolutionRunner(lambda mp: mp.solutions.hands.Hands(
            static_image_mode=still, max_num_hands=max_hands, model_complexity=complexity,
            min_detection_confidence=min_confidence, min_tracking_confidence=min_confidence),
            findings="multi_hand_landmarks")

    def __call__(self, image_bgr: np.ndarray) -> list[Hand]:
        hands = self._find(image_bgr)
        if hands or not self._still:
            return hands
        border = int(STILL_RETRY_BORDER * max(image_bgr.shape[:2]))
        framed = cv2.copyMakeBorder(image_bgr, border, border, border, border, cv2.BORDER_CONSTANT, value=0)
        shift = np.array([border, border, 0], np.float32)
        return [Hand(hand.landmarks - shift, hand.handedness, hand.score) for hand in self._find(framed)]

    def _find(self, image_bgr: np.ndarray) -> list[Hand]:
        height, width = image_bgr.shape[:2]
        result = self._hands.process(image_bgr)
        hands = []
        for marks, which in zip(result.multi_hand_landmarks or [], result.multi_handedness or []):
            label = which.classification[0]
            hands.append(Hand(landmark_pixels(marks, width, height), label.label, float(label.score)))
        return hands

    def close(self) -> None:
        self._hands.close()

    def __enter__(self) -> HandDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
