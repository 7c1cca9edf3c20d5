"""`Detections`: the faces one detector found in one image, as plain numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

KEYPOINT_NAMES = ("right_eye", "left_eye", "nose", "mouth_right", "mouth_left")
"""The 5-point layout every backend reports; right/left are the subject's (image left/right)."""


@dataclass(frozen=True)
class CropFraming:
    """Where a detector's box puts the square the expression models were trained on (FER2013's
    framing: the face with a little hair and chin): the square's side is ``scale`` times the box's
    longer side and its centre is the box's centre moved by ``(dx, dy)`` box sides. Detectors frame
    faces differently (MTCNN brow to chin, MediaPipe tighter and lower), so each has its own;
    the values are measured by ``emoscope bench pipeline --split val`` (PublicTest)."""

    scale: float = 1.2
    dx: float = 0.0
    dy: float = 0.0

    def square(self, box: np.ndarray) -> tuple[float, float, float]:
        """The crop's centre (x, y) and side for ``box`` (x1, y1, x2, y2)."""
        x1, y1, x2, y2 = (float(v) for v in box)
        side = max(x2 - x1, y2 - y1)
        return (x1 + x2) / 2.0 + self.dx * side, (y1 + y2) / 2.0 + self.dy * side, side * self.scale


@dataclass(frozen=True)
class Detections:
    """``boxes`` ``(N, 4)`` x1, y1, x2, y2 pixels (detectors clip them to the image), ``scores``
    ``(N,)``, and ``keypoints`` ``(N, 5, 2)`` pixels in :data:`KEYPOINT_NAMES` order, or ``None``
    when the backend has none. All float32. ``framing`` is how the detector that found them frames a
    face (see :class:`CropFraming`); crops follow it."""

    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray | None = None
    framing: CropFraming = CropFraming()

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
        return replace(self, boxes=self.boxes[index], scores=self.scores[index], keypoints=keypoints)

    def scaled(self, factor: float) -> Detections:
        """Boxes and keypoints in an image ``factor`` times the size of this one."""
        if factor == 1.0:
            return self
        keypoints = None if self.keypoints is None else self.keypoints * factor
        return replace(self, boxes=self.boxes * factor, keypoints=keypoints)

    def clipped(self, width: int, height: int) -> Detections:
        """Boxes clipped to a ``width`` x ``height`` image; boxes left with no area are dropped.

        Keypoints are kept as they are: an eye just outside the frame still tells the head's roll.
        """
        boxes = np.clip(self.boxes, 0, np.array([width, height, width, height], dtype=np.float32))
        inside = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        return replace(self, boxes=boxes).select(inside)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, overlap: str = "union") -> np.ndarray:
    """Greedy non-maximum suppression: indices of the boxes kept, best first. ``overlap`` "union"
    is IoU; "min" divides by the smaller box, so a box inside a bigger one is suppressed too."""
    x1, y1, x2, y2 = boxes.T
    areas = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while len(order):
        best, rest = order[0], order[1:]
        keep.append(best)
        inter = (np.clip(np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]), 0, None)
                 * np.clip(np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]), 0, None))
        base = np.minimum(areas[best], areas[rest]) if overlap == "min" else areas[best] + areas[rest] - inter
        order = rest[inter <= threshold * np.maximum(base, 1e-9)]
    return np.asarray(keep, dtype=np.int64)
