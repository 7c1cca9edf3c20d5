"""MTCNN (Zhang et al., 2016): three small CNNs in a cascade, with 5 facial landmarks.

P-Net slides over an image pyramid and proposes face windows; R-Net (24x24 crops) rejects most of
them; O-Net (48x48 crops) scores the rest, refines the boxes and places the landmarks. Between
stages, non-maximum suppression merges overlapping windows. Weights: facenet-pytorch's (MIT),
converted to safetensors by ``tools/convert_mtcnn_weights.py`` and shipped in ``weights/mtcnn``;
the networks themselves are in :mod:`emoscope.faces.mtcnn_nets` (torch is imported on first use).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from emoscope.faces.base import BaseDetector
from emoscope.faces.detections import CropFraming, Detections, nms
from emoscope.faces.registry import register_detector
from emoscope.runtime.preprocess import resize

def regress(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Move each box side by the net's offset, a fraction of the box's width or height."""
    sizes = np.tile(boxes[:, 2:4] - boxes[:, 0:2], 2)
    return boxes + offsets * sizes


def squared(boxes: np.ndarray) -> np.ndarray:
    """Squares with the boxes' centres and longer sides (the next stage's input is square)."""
    centres = (boxes[:, 0:2] + boxes[:, 2:4]) / 2
    half = (boxes[:, 2:4] - boxes[:, 0:2]).max(axis=1, keepdims=True) / 2
    return np.concatenate([centres - half, centres + half], axis=1)


def pyramid_scales(min_side: int, min_face_size: float, factor: float) -> Iterator[float]:
    """Scales at which P-Net's 12 px window covers faces from ``min_face_size`` up to the whole image."""
    scale = 12.0 / min_face_size
    while min_side * scale >= 12:
        yield scale
        scale *= factor


def crop_patches(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """``(N, size, size, 3)`` crops of ``boxes``, zero-padded where a box leaves the image (as MTCNN
    was trained)."""
    height, width = image.shape[:2]
    patches = np.zeros((len(boxes), size, size, 3), dtype=np.uint8)
    for index, (x1, y1, x2, y2) in enumerate(np.rint(boxes).astype(np.int64)):
        canvas = np.zeros((max(y2 - y1, 1), max(x2 - x1, 1), 3), dtype=np.uint8)
        sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
        if sx2 > sx1 and sy2 > sy1:
            canvas[sy1 - y1 : sy2 - y1, sx1 - x1 : sx2 - x1] = image[sy1:sy2, sx1:sx2]
        patches[index] = resize(canvas, size)
    return patches


class MtcnnDetector(BaseDetector):
    """``min_face_size`` pixels is the smallest face searched for (smaller is slower);
    ``thresholds`` are the three stages' minimum face probabilities; ``pyramid_factor`` the
    scale step between pyramid levels."""

    name = "mtcnn"
    framing = CropFraming(scale=0.952, dx=0.006, dy=-0.008)  # its boxes already hold hair and chin

    def __init__(self, min_score: float = 0.5, min_face_size: float = 20, thresholds=(0.6, 0.7, 0.7),
                 pyramid_factor: float = 0.709, **kwargs):
        super().__init__(min_score, **kwargs)
        self.min_face_size = min_face_size
        self.thresholds = tuple(thresholds)
        self.pyramid_factor = pyramid_factor
        from emoscope.faces.mtcnn_nets import STAGES, StageRunner

        self.pnet, self.rnet, self.onet = (StageRunner(stage) for stage in STAGES)

    def _propose(self, rgb: np.ndarray) -> np.ndarray:
        """Stage 1: squared candidate boxes from P-Net over the pyramid."""
        import cv2

        height, width = rgb.shape[:2]
        windows, scores, offsets = [], [], []
        for scale in pyramid_scales(min(height, width), self.min_face_size, self.pyramid_factor):
            level = cv2.resize(rgb, (math.ceil(width * scale), math.ceil(height * scale)), interpolation=cv2.INTER_AREA)
            prob, offset = (output[0] for output in self.pnet(level[None]))
            ys, xs = np.nonzero(prob >= self.thresholds[0])
            # Each output cell saw a 12x12 window of this level, at a stride of 2.
            level_windows = np.stack([xs * 2, ys * 2, xs * 2 + 12, ys * 2 + 12], axis=1).astype(np.float32) / scale
            keep = nms(level_windows, prob[ys, xs], 0.5)
            windows.append(level_windows[keep])
            scores.append(prob[ys, xs][keep])
            offsets.append(offset[:, ys, xs].T[keep])
        if not windows:
            return np.zeros((0, 4), np.float32)
        windows, scores, offsets = np.concatenate(windows), np.concatenate(scores), np.concatenate(offsets)
        keep = nms(windows, scores, 0.7)
        return squared(regress(windows[keep], offsets[keep]))

    def _refine(self, rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Stage 2: R-Net keeps the likely faces and tightens their boxes."""
        prob, offsets = self.rnet(crop_patches(rgb, boxes, 24))
        passed = prob >= self.thresholds[1]
        boxes, prob, offsets = boxes[passed], prob[passed], offsets[passed]
        keep = nms(boxes, prob, 0.7)
        return squared(regress(boxes[keep], offsets[keep]))

    def _finish(self, rgb: np.ndarray, boxes: np.ndarray) -> Detections:
        """Stage 3: O-Net's final scores, boxes and landmarks."""
        prob, offsets, marks = self.onet(crop_patches(rgb, boxes, 48))
        passed = prob >= self.thresholds[2]
        boxes, prob, offsets, marks = boxes[passed], prob[passed], offsets[passed], marks[passed]
        sizes = (boxes[:, 2:4] - boxes[:, 0:2])[:, None, :]
        # Landmarks are relative to the box O-Net saw; MTCNN's order (image-left eye first) is ours.
        keypoints = boxes[:, None, 0:2] + np.stack([marks[:, :5], marks[:, 5:]], axis=2) * sizes
        boxes = regress(boxes, offsets)
        keep = nms(boxes, prob, 0.7, overlap="min")
        return Detections(boxes[keep], prob[keep], keypoints[keep])

    def _detect(self, image_bgr: np.ndarray) -> Detections:
        import cv2

        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        boxes = self._propose(rgb)
        if len(boxes):
            boxes = self._refine(rgb, boxes)
        if len(boxes):
            return self._finish(rgb, boxes)
        return Detections.empty()


register_detector("mtcnn", MtcnnDetector, "slowest, finds hard faces the others miss, with 5 landmarks")
