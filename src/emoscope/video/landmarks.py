"""MediaPipe face mesh (with iris) on whole frames in tracking mode, and hand landmarks as arrays.

Both keep MediaPipe's own temporal tracking (``static_image_mode=False``), which skips the
expensive detection stage while a face or hand stays in view. Landmarks come back in pixels.
"""

from __future__ import annotations

import numpy as np

from emoscope.faces.hands import HandDetector
from emoscope.faces.mediapipe_solutions import SolutionRunner, landmark_pixels


class FaceMeshRunner:
    """478 face landmarks per face (468 mesh + 10 iris), as ``(N, 478, 2)`` pixels."""

    def __init__(self, max_faces: int = 4, min_confidence: float = 0.5):
        self._mesh = SolutionRunner(lambda mp: mp.solutions.face_mesh.FaceMesh(
            static_image_mode=False, max_num_faces=max_faces, refine_landmarks=True,
            min_detection_confidence=min_confidence, min_tracking_confidence=min_confidence),
            findings="multi_face_landmarks")

    def __call__(self, image_bgr: np.ndarray) -> np.ndarray:
        h, w = image_bgr.shape[:2]
        faces = self._mesh.process(image_bgr).multi_face_landmarks
        if not faces:
            return np.zeros((0, 478, 2), np.float32)
        return np.stack([landmark_pixels(face, w, h)[:, :2] for face in faces])

    def close(self) -> None:
        self._mesh.close()


class HandsRunner:
    """21 landmarks per hand as ``(N, 21, 2)`` pixels, from the lighter hand tracker."""

    def __init__(self, max_hands: int = 2):
        self._detector = HandDetector(still=False, max_hands=max_hands, complexity=0)

    def __call__(self, image_bgr: np.ndarray) -> np.ndarray:
        hands = self._detector(image_bgr)
        return np.stack([h.landmarks[:, :2] for h in hands]) if hands else np.zeros((0, 21, 2), np.float32)

    def close(self) -> None:
        self._detector.close()


def match_to_boxes(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """For each face box, the index of the landmark set whose centre lies inside it (or -1)."""
    match = np.full(len(boxes), -1, dtype=np.int64)
    if len(points) == 0:
        return match
    centres = points.mean(axis=1)
    taken: set[int] = set()
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        box_centre = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
        inside = [j for j, c in enumerate(centres)
                  if j not in taken and x1 <= c[0] <= x2 and y1 <= c[1] <= y2]
        if inside:
            j = min(inside, key=lambda k: float(np.linalg.norm(centres[k] - box_centre)))
            match[i] = j
            taken.add(j)
    return match
