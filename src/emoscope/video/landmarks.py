"""MediaPipe face mesh (with iris) on whole frames in tracking mode, and hand landmarks as arrays.

Both keep MediaPipe's own temporal tracking (``static_image_mode=False``), which skips the
expensive detection stage while a face or hand stays in view. Landmarks come back in pixels.
"""

from __future__ import annotations

import numpy as np

from emoscope.faces.hands import HandDetector
from emoscope.faces.mediapipe_solutions import SolutionRunner, landmark_pixels


class FaceMeshRunner:
    """478 face landmarks per face (468 mesh + 10 iris), as ``(N, 478, 2)`` pixels.

    Told how many faces a frame holds, the mesh runs a graph made for that many: a graph tracking
    fewer faces than it may track runs MediaPipe's face detector on every frame to look for more (a
    graph for 4 faces costs a third more per frame with one face in view than a graph for 1), while
    one tracking all it may runs the detector only when it loses a face. A graph used again after
    frames on another keeps nothing from its last frame.
    """

    def __init__(self, max_faces: int = 4, min_confidence: float = 0.5):
        self.max_faces = max_faces
        self.min_confidence = min_confidence
        self._graphs = {1: self._graph(1)}  # made now, not in the loop: the graph for one face serves most videos
        self._last: int | None = None  # the graph of the last frame

    def __call__(self, image_bgr: np.ndarray, faces: int | None = None) -> np.ndarray:
        """``faces``: how many faces the frame holds (e.g. as detected; None: up to ``max_faces``); 0
        runs nothing."""
        count = self.max_faces if faces is None else min(faces, self.max_faces)
        previous, self._last = self._last, count
        if count == 0:
            return np.zeros((0, 478, 2), np.float32)
        graph = self._graphs.get(count)
        if graph is None:
            graph = self._graphs[count] = self._graph(count)
        elif previous != count:
            graph.reset()
        h, w = image_bgr.shape[:2]
        found = graph.process(image_bgr).multi_face_landmarks
        if not found:
            return np.zeros((0, 478, 2), np.float32)
        return np.stack([landmark_pixels(face, w, h)[:, :2] for face in found])

    def _graph(self, faces: int) -> SolutionRunner:
        return SolutionRunner(lambda mp: mp.solutions.face_mesh.FaceMesh(
            static_image_mode=False, max_num_faces=faces, refine_landmarks=True,
            min_detection_confidence=self.min_confidence, min_tracking_confidence=self.min_confidence),
            findings="multi_face_landmarks")

    def close(self) -> None:
        for graph in self._graphs.values():
            graph.close()


class HandsRunner:
    """21 landmarks per hand as ``(N, 21, 2)`` pixels, from the lighter hand tracker; ``search_every``: see
    :class:`~emoscope.faces.hands.HandDetector`."""

    def __init__(self, max_hands: int = 2, search_every: int = 1):
        self._detector = HandDetector(still=False, max_hands=max_hands, complexity=0, search_every=search_every)

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
