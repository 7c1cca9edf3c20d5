"""Multi-face tracking with stable IDs: greedy IoU matching, centroid distance as a fallback."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of ``(N, 4)`` and ``(M, 4)`` x1, y1, x2, y2 boxes."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float32)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


@dataclass
class Track:
    id: int
    box: np.ndarray
    missed: int = 0  # consecutive frames without a matching detection


class FaceTracker:
    """Assigns each detection a track ID that stays the same while the face moves.

    Pairs are matched greedily by IoU (highest first, at least ``iou_threshold``); a detection left
    over joins a left-over track whose centre is within ``max_centre_shift`` box sizes (fast head
    movement at a low sampling rate breaks IoU but not proximity). Tracks unseen for more than
    ``max_missed`` frames are dropped; a face that comes back later gets a new ID.
    """

    def __init__(self, iou_threshold: float = 0.3, max_centre_shift: float = 0.6, max_missed: int = 15):
        self.iou_threshold = iou_threshold
        self.max_centre_shift = max_centre_shift
        self.max_missed = max_missed
        self.tracks: list[Track] = []
        self._next_id = 1
        self.dropped: list[int] = []  # IDs dropped by the last update

    def update(self, boxes: np.ndarray) -> np.ndarray:
        """Track IDs for ``boxes`` (one per row), in the same order."""
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        ids = np.zeros(len(boxes), dtype=np.int64)
        free_tracks = set(range(len(self.tracks)))
        free_boxes = set(range(len(boxes)))
        if self.tracks and len(boxes):
            track_boxes = np.stack([t.box for t in self.tracks])
            iou = iou_matrix(track_boxes, boxes)
            for flat in np.argsort(-iou, axis=None):
                t, d = divmod(int(flat), len(boxes))
                if iou[t, d] < self.iou_threshold:
                    break
                if t in free_tracks and d in free_boxes:
                    self._assign(t, d, boxes, ids, free_tracks, free_boxes)
            for d in sorted(free_boxes):
                best = self._nearest_track(boxes[d], free_tracks)
                if best is not None:
                    self._assign(best, d, boxes, ids, free_tracks, free_boxes)
        for t in free_tracks:
            self.tracks[t].missed += 1
        for d in sorted(free_boxes):
            self.tracks.append(Track(self._next_id, boxes[d].copy()))
            ids[d] = self._next_id
            self._next_id += 1
        self.dropped = [t.id for t in self.tracks if t.missed > self.max_missed]
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return ids

    def _assign(self, t: int, d: int, boxes, ids, free_tracks: set, free_boxes: set) -> None:
        track = self.tracks[t]
        track.box = boxes[d].copy()
        track.missed = 0
        ids[d] = track.id
        free_tracks.discard(t)
        free_boxes.discard(d)

    def _nearest_track(self, box: np.ndarray, candidates: set) -> int | None:
        centre = (box[:2] + box[2:]) / 2
        size = max(float(box[2] - box[0]), float(box[3] - box[1]), 1.0)
        best, best_dist = None, self.max_centre_shift * size
        for t in candidates:
            other = self.tracks[t].box
            dist = float(np.linalg.norm(centre - (other[:2] + other[2:]) / 2))
            if dist <= best_dist:
                best, best_dist = t, dist
        return best


class EmaSmoother:
    """Exponential moving average of class probabilities per track (``alpha`` = weight of the new frame)."""

    def __init__(self, alpha: float = 0.3):
        if not 0 < alpha <= 1:
            raise ValueError("alpha must be in (0, 1]")
        self.alpha = alpha
        self._state: dict[int, np.ndarray] = {}

    def update(self, track_id: int, probs: np.ndarray) -> np.ndarray:
        previous = self._state.get(track_id)
        smoothed = probs if previous is None else self.alpha * probs + (1 - self.alpha) * previous
        self._state[track_id] = smoothed
        return smoothed

    def forget(self, track_ids) -> None:
        for track_id in track_ids:
            self._state.pop(track_id, None)
