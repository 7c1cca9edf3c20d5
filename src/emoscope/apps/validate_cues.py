"""Score the blink and face-touch cues against frame labels made by looking at a real clip.

The labels live in ``tests/fixtures/labels/<clip>.json`` (how they were made is written inside);
``emoscope validate-cues LABELS`` runs the real pipeline on the clip and prints these scores.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from emoscope.errors import DataError


class ConstantPredictor:
    """Says "neutral" for every face: for measuring what does not depend on the expression model
    (cues, visibility, speed of the other stages)."""

    classes = ["neutral", "happy"]  # a model has two classes at least

    def __init__(self):
        from emoscope.runtime.spec import ModelSpec

        self.spec = ModelSpec(name="constant", architecture="none", label_set="fer2013", classes=self.classes)

    def predict_proba(self, crops) -> np.ndarray:
        return np.tile(np.array([1.0, 0.0], np.float32), (len(crops), 1))


def _ranges_to_mask(ranges: list[list[int]], frames: int) -> np.ndarray:
    mask = np.zeros(frames, dtype=bool)
    for start, end in ranges:
        mask[start : end + 1] = True
    return mask


def score_blinks(detected_frames: list[int], labels: dict, tolerance: int = 3) -> dict:
    """A detection (the frame where the eyes reopened) matches a labelled blink when it falls in
    ``[start, end + tolerance]``; detections inside ambiguous closures are not scored."""
    blinks = labels["blinks"]
    ambiguous = labels.get("ambiguous_closures", [])
    matched: set[int] = set()
    false_positives = 0
    for frame in detected_frames:
        hit = next((i for i, (s, e) in enumerate(blinks) if s <= frame <= e + tolerance and i not in matched), None)
        if hit is not None:
            matched.add(hit)
        elif not any(s <= frame <= e + tolerance for s, e in ambiguous):
            false_positives += 1
    scored = len(matched) + false_positives
    return {
        "labelled": len(blinks), "detected": len(detected_frames), "true_positives": len(matched),
        "false_positives": false_positives,
        "precision": len(matched) / scored if scored else 0.0,
        "recall": len(matched) / len(blinks) if blinks else 0.0,
    }


def score_touch(active: np.ndarray, labels: dict) -> dict:
    """Frame-level agreement of the 'touch episode active' flag with the labelled touch frames."""
    truth = _ranges_to_mask(labels["face_touch"], len(active))
    tp = int((active & truth).sum())
    return {
        "labelled_frames": int(truth.sum()), "detected_frames": int(active.sum()),
        "precision": tp / active.sum() if active.any() else 0.0,
        "recall": tp / truth.sum() if truth.any() else 0.0,
        "iou": tp / int((active | truth).sum()) if (active | truth).any() else 0.0,
    }


def validate_clip(labels_path: Path, data_root: Path) -> dict:
    """Run detection, face mesh and hands on the labelled clip; score blinks and touches."""
    from emoscope.video.pipeline import AnalysisOptions, FrameAnalyzer
    from emoscope.video.source import VideoSource

    labels = json.loads(Path(labels_path).read_text())
    video_path = Path(data_root) / labels["video"]
    if not video_path.is_file():
        raise DataError(f"{video_path}: labelled clip not found")

    analyzer = FrameAnalyzer(ConstantPredictor(), AnalysisOptions(gaze=False))
    blink_frames, touching = [], np.zeros(labels["frames"], dtype=bool)
    with VideoSource(video_path) as video:
        for result in analyzer.run(video):
            if result.index >= labels["frames"]:
                break
            for face in result.faces:
                if face.data.get("blink"):
                    blink_frames.append(result.index)
                touching[result.index] |= bool(face.data.get("touching") and face.data.get("hand_on_face"))
    analyzer.close()
    return {"clip": labels["video"], "blinks": score_blinks(blink_frames, labels) | {"frames": blink_frames},
            "touch": score_touch(touching, labels)}
