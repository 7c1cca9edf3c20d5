"""`Detections`: the faces one detector found in one image, as plain numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KEYPOINT_NAMES = ("right_eye", "left_eye", "nose", "mouth_right", "mouth_left")
"""The 5-point layout every backend reports; right/left are the subject's (image left/right)."""


@dataclass(frozen=True)
class Detections:
    """``boxes`` ``(N, 4)`` x1, y1, x2, y2 pixels (detectors clip them to the image), ``scores``
    ``(N,)``, and ``keypoints`` ``(N, 5, 2)`` pixels in :data:`KEYPOINT_NAMES` order, or ``None``
    when the backend has none. All float32."""

    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray | None = None

    def __post_init__(self):
        # Normalise once here so every backend and every consumer sees the same dtypes and shapes.
        object.__setattr__(self, "boxes", np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4))
        object.__setattr__(self, "scores", np.asarray(self.scores, dtype=np.float32).reshape(-1))
        if self.keypoints is not None:
            object.__setattr__(self, "keypoints", np.asarray(self.keypoints, dtype=np.float32).reshape(-1, 5, 2))
        counts = {len(self.boxes), len(self.scores)} | ({len(self.keypoints)} if self.keypoints is not None else set())
        if len(counts) != 1:
            raise ValueError(f"boxes, scores and keypoints disagree on the number of faces: {sorted(counts)}")

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))

    def select(self, index) -> Detections:
        """The detections picked by a boolean mask or an index array, in that order."""
        index = np.asarray(index)
        if index.dtype != bool:
            index = index.astype(np.int64).reshape(-1)
        keypoints = None if self.keypoints is None else self.keypoints[index]
        return Detections(self.boxes[index], self.scores[index], keypoints)

    def scaled(self, factor: float) -> Detections:
        """Boxes and keypoints in an image ``factor`` times the size of this one."""
        if factor == 1.0:
            return self
        keypoints = None if self.keypoints is None else self.keypoints * factor
        return Detections(self.boxes * factor, self.scores, keypoints)

    def clipped(self, width: int, height: int) -> Detections:
        """Boxes clipped to a ``width`` x ``height`` image; boxes left with no area are dropped.

        Keypoints are kept as they are: an eye just outside the frame still tells the head's roll.
        """
        boxes = np.clip(self.boxes, 0, np.array([width, height, width, height], dtype=np.float32))
        inside = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        return Detections(boxes, self.scores, self.keypoints).select(inside)
