"""Multi-face tracking with stable IDs: greedy IoU matching, centroid distance as a fallback."""

from __future__ import annotations

from dataclasses import dataclass, replace

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


class DetectionSchedule:
    """Which frames the face detector is planned for when faces are followed in between
    (:class:`FaceFollower`): every ``every``-th frame of the loop (1: every frame, the detector alone).
    A frame in between is detected too when the follower gives up on it: no face is being followed
    (so a face entering an empty scene is found on its first frame), a face was lost or its flow is
    uncertain, or the scene cut. A face entering while another is followed waits for the next planned
    frame.
    """

    def __init__(self, every: int = 1):
        if every < 1:
            raise ValueError("every must be at least 1")
        self.every = every

    def planned(self, position: int) -> bool:
        """Whether the ``position``-th frame of the loop (0-based) is a planned detection."""
        return position % self.every == 0


SCENE_CUT_LEVEL = 30.0
"""Mean absolute difference (levels of 255) between two consecutive frames sampled every 20th pixel
that counts as a cut: a talking head or a slow pan changes it by a few levels, a cut to another shot
by tens."""
FOLLOW_SIDE = 80
"""Faces are followed in a gray copy of their window shrunk so the face is about this many pixels
wide: optical flow's cost grows with the pixels, and a corner's motion is found to a fraction of a
pixel at this size too."""


@dataclass
class _Followed:
    """One followed face: the window about it where its corners are followed (fixed from its detection
    on, so each frame's gray copy of it serves as the next frame's "before"), that copy, its corners."""

    window: tuple[int, int, int, int]  # x1, y1, x2, y2 in frame pixels
    scale: float  # the window's copy is shrunk by this
    gray: np.ndarray
    corners: np.ndarray  # (K, 1, 2) in the copy's pixels


class FaceFollower:
    """Carries one frame's detected faces to the next frames by optical flow, without the detector.

    Only steady detections are followed: every face scored at least ``min_score`` and as many faces
    as in the frame detected before. Otherwise (a face entering, leaving or flickering at the edge, a
    doubtful face) nothing is followed and the next frame is detected too, so in such stretches the
    loop is the detector on every frame. Corners inside each face are followed with pyramidal Lucas-Kanade, forwards and back (a corner
    that does not come back to where it started is dropped), in a window about the face as detected;
    a similarity transform (shift, scale, in-plane rotation) fitted to the corners that remain moves
    the face's box and its five keypoints, so crops stay centred and levelled. A face is *lost* when
    too few corners survive (a face leaving its window loses them) or fit the transform, the fit says
    it grew or shrank by more than a tenth in one frame, or it leaves the frame; :meth:`follow` then
    returns None, and so it does on a scene cut: the caller detects that frame.
    """

    def __init__(self, min_score: float = 0.8, max_corners: int = 20, min_corners: int = 6, min_kept: float = 0.5,
                 max_fb_error: float = 0.5, max_scale_step: float = 0.1, scene_cut_level: float = SCENE_CUT_LEVEL):
        """``max_fb_error``: pixels (in the shrunk window) a corner followed forwards and back may miss
        its start by; ``max_scale_step``: the most a face may grow or shrink from one frame to the next."""
        self.min_score = min_score
        self.max_scale_step = max_scale_step
        self.max_corners = max_corners
        self.min_corners = min_corners
        self.min_kept = min_kept
        self.max_fb_error = max_fb_error
        self.scene_cut_level = scene_cut_level
        self._image: np.ndarray | None = None
        self._detections = None
        self._faces: list[_Followed] = []
        self._last_detected: int | None = None  # faces in the last detected frame

    @property
    def followed(self) -> int:
        """Faces being followed (0 before the first detection and after a loss)."""
        return 0 if self._detections is None else len(self._detections)

    def start(self, image_bgr: np.ndarray, detections) -> None:
        """Follow ``detections`` (a :class:`~emoscope.faces.Detections` of this frame) from here on, if
        they are steady (see the class)."""
        steady = len(detections) == self._last_detected and bool((detections.scores >= self.min_score).all())
        self._image, self._last_detected = image_bgr, len(detections)
        if not steady:
            self._lose()
            return
        self._detections = detections
        self._faces = [self._seed(image_bgr, box) for box in detections.boxes]

    def follow(self, image_bgr: np.ndarray):
        """The followed faces moved into this frame, as Detections (boxes, keypoints; scores as last
        detected), or None when there is none to follow, a face was lost or the scene cut (then nothing
        is followed until :meth:`start`)."""
        previous, self._image = self._image, image_bgr
        if not self.followed:
            return None
        if scene_change(previous, image_bgr) >= self.scene_cut_level:
            return self._lose()
        boxes, keypoints = [], []
        for index, face in enumerate(self._faces):
            matrix = self._flow(image_bgr, face)
            if matrix is None:
                return self._lose()
            boxes.append(_move_box(self._detections.boxes[index], matrix))
            if self._detections.keypoints is not None:
                keypoints.append(self._detections.keypoints[index] @ matrix[:, :2].T + matrix[:, 2])
        height, width = image_bgr.shape[:2]
        moved = replace(self._detections, boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
                        keypoints=np.asarray(keypoints, np.float32) if keypoints else None)
        clipped = moved.clipped(width, height)  # as the detector clips its boxes
        if len(clipped) != len(moved):  # a face left the frame
            return self._lose()
        self._detections = moved
        return clipped

    def _lose(self) -> None:
        self._detections, self._faces = None, []
        return None

    def _seed(self, image_bgr: np.ndarray, box: np.ndarray) -> _Followed:
        """A face to follow: its window (the box and half its size again on each side), shrunk so the
        face is about :data:`FOLLOW_SIDE` wide (by a whole factor: OpenCV's fast path), and corners in
        the middle of the box (its edges are background as often as face)."""
        import cv2

        x1, y1, x2, y2 = (float(v) for v in box)
        side = max(x2 - x1, y2 - y1, 1.0)
        scale = 1.0 / max(1, round(side / FOLLOW_SIDE))
        height, width = image_bgr.shape[:2]
        window = (max(0, int(x1 - side / 2)), max(0, int(y1 - side / 2)), min(width, int(x2 + side / 2) + 1),
                  min(height, int(y2 + side / 2) + 1))
        gray = _shrunk_gray(image_bgr, window, scale)
        inner = np.array([x1 + 0.1 * (x2 - x1), y1 + 0.1 * (y2 - y1), x2 - 0.1 * (x2 - x1), y2 - 0.1 * (y2 - y1)])
        left, top, right, bottom = ((inner - np.tile(window[:2], 2)) * scale).round().astype(int)
        left, top = max(left, 0), max(top, 0)
        corners = None
        if right - left >= 8 and bottom - top >= 8:
            corners = cv2.goodFeaturesToTrack(gray[top:bottom, left:right], self.max_corners, 0.01, FOLLOW_SIDE / 16)
        corners = np.zeros((0, 1, 2), np.float32) if corners is None else corners + np.array([left, top], np.float32)
        return _Followed(window, scale, gray, corners.astype(np.float32))

    def _flow(self, image_bgr: np.ndarray, face: _Followed) -> np.ndarray | None:
        """The similarity transform (2x3, frame pixels) that moved the face's corners from the last frame
        into this one (``face`` moves on to this frame), or None when the face is lost."""
        import cv2

        if len(face.corners) < self.min_corners:
            return None
        after = _shrunk_gray(image_bgr, face.window, face.scale)
        params = {"winSize": (11, 11), "maxLevel": 2,
                  "criteria": (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 10, 0.03)}
        start = face.corners
        ahead, found, _ = cv2.calcOpticalFlowPyrLK(face.gray, after, start, None, **params)
        back, returned, _ = cv2.calcOpticalFlowPyrLK(after, face.gray, ahead, None, **params)
        missed = np.abs(back - start).reshape(-1, 2).max(axis=1)
        good = (found[:, 0] == 1) & (returned[:, 0] == 1) & (missed < self.max_fb_error)
        needed = max(self.min_corners, self.min_kept * len(start))
        if good.sum() < needed:
            return None
        matrix, inliers = cv2.estimateAffinePartial2D(start[good], ahead[good], method=cv2.RANSAC,
                                                      ransacReprojThreshold=1.0)
        if matrix is None or inliers.sum() < needed:
            return None
        if abs(float(np.hypot(matrix[0, 0], matrix[1, 0])) - 1.0) > self.max_scale_step:
            return None
        face.gray, face.corners = after, ahead[good][inliers[:, 0] == 1].reshape(-1, 1, 2)
        # from the shrunk window back to frame pixels: x_frame = x_window / scale + origin
        origin = np.array(face.window[:2], np.float64)
        matrix[:, 2] = matrix[:, 2] / face.scale + origin - matrix[:, :2] @ origin
        return matrix


def scene_change(before: np.ndarray, after: np.ndarray) -> float:
    """Mean absolute difference of two frames sampled every 20th pixel (about 32x18 samples of a 640x360
    frame), in levels of 255; frames of different sizes differ completely (255)."""
    if before.shape != after.shape:
        return 255.0
    import cv2

    return float(np.mean(cv2.absdiff(before[::20, ::20], after[::20, ::20])))


def _shrunk_gray(image_bgr: np.ndarray, window: tuple[int, int, int, int], scale: float) -> np.ndarray:
    """The ``window`` (x1, y1, x2, y2) of the image in gray, shrunk by ``scale``."""
    import cv2

    x1, y1, x2, y2 = window
    gray = cv2.cvtColor(image_bgr[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY)
    return gray if scale == 1.0 else cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def _move_box(box: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """The axis-aligned box about the moved centre, its sides scaled as the transform scales."""
    centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], np.float32)
    half = np.array([box[2] - box[0], box[3] - box[1]], np.float32) / 2 * float(np.hypot(matrix[0, 0], matrix[1, 0]))
    moved = matrix[:, :2] @ centre + matrix[:, 2]
    return np.concatenate([moved - half, moved + half]).astype(np.float32)
