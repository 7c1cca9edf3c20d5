"""What the default video loop keeps of the exact one (the detector on every frame): faces found,
labels, and the cue validation of both loops (`emoscope bench video --agreement`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emoscope.video.pipeline import AnalysisOptions, FrameAnalyzer
from emoscope.video.source import VideoSource

EXACT = {"detect_every": 1}
"""The options that put the detector on every frame, as the loop did before issue 39: the reference
the faster defaults are checked against."""


def frame_faces(video: Path, predictor, options: AnalysisOptions, max_frames: int | None = None) -> list[list]:
    """Per frame, its faces as ``(box, label)``."""
    analyzer = FrameAnalyzer(predictor, options)
    frames = []
    try:
        with VideoSource(video) as source:
            for result in analyzer.run(source):
                frames.append([(face.box.copy(), face.label) for face in result.faces])
                if max_frames and len(frames) >= max_frames:
                    break
    finally:
        analyzer.close()
    return frames


def match_boxes(reference: np.ndarray, found: np.ndarray, min_iou: float = 0.3) -> list[tuple[int, int]]:
    """Pairs ``(i, j)`` of reference and found boxes, greedily by IoU (at least ``min_iou``)."""
    from emoscope.video.tracking import iou_matrix

    iou = iou_matrix(np.asarray(reference, np.float32).reshape(-1, 4), np.asarray(found, np.float32).reshape(-1, 4))
    pairs, used_i, used_j = [], set(), set()
    for flat in np.argsort(-iou, axis=None):
        i, j = divmod(int(flat), iou.shape[1])
        if iou[i, j] < min_iou:
            break
        if i not in used_i and j not in used_j:
            pairs.append((i, j))
            used_i.add(i)
            used_j.add(j)
    return pairs


def compare_faces(reference: list[list], found: list[list]) -> dict:
    """Faces the reference loop found that the other found too (boxes matched by IoU), and how many of
    those reference faces got the same label; counts and shares over the reference's faces."""
    faces = matched = same = extra = 0
    for ref_faces, new_faces in zip(reference, found):
        pairs = match_boxes([b for b, _ in ref_faces], [b for b, _ in new_faces])
        faces += len(ref_faces)
        matched += len(pairs)
        same += sum(ref_faces[i][1] == new_faces[j][1] for i, j in pairs)
        extra += len(new_faces) - len(pairs)
    return {"frames": len(reference), "reference_faces": faces, "found": matched, "same_label": same,
            "extra_faces": extra, "recall": round(matched / faces, 4) if faces else None,
            "label_agreement": round(same / faces, 4) if faces else None}


def video_files(folder: Path) -> list[Path]:
    """The videos in a folder (by suffix), sorted."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".mp4", ".mov", ".avi", ".mkv", ".webm"))


def agreement(video: Path, predictor, options: AnalysisOptions, recall_videos: list[Path] = (),
              cue_labels: Path | None = None, cue_events: Path | None = None, data_root: Path | None = None) -> dict:
    """What the loop with ``options`` (the full report's) keeps of the exact one (``options`` with
    :data:`EXACT`): per-frame labels
    on ``video``, faces found on ``video`` and each of ``recall_videos``, and the cue validation
    (``emoscope validate-cues``: blinks and touches against ``cue_labels``, events against
    ``cue_events``) of both loops."""
    from emoscope.benchmarks.validate_cues import validate_clip, validate_events

    exact = options.model_copy(update=EXACT)
    faces_only = {"blinks": False, "gaze": False, "touches": False}  # the cues change no face and no label
    clips = {}
    for clip in [video, *recall_videos]:
        if clip.name not in clips:
            clips[clip.name] = compare_faces(frame_faces(clip, predictor, exact.model_copy(update=faces_only)),
                                             frame_faces(clip, predictor, options.model_copy(update=faces_only)))
    reference = sum(c["reference_faces"] for c in clips.values())
    found = sum(c["found"] for c in clips.values())
    results = {"options": {"default": options.detect_every, "exact": exact.detect_every}, "clips": clips,
               "labels": clips[video.name],
               "recall_all_clips": round(found / reference, 4) if reference else None}
    cues = {}
    for name, loop in (("exact", exact), ("default", options)):
        scores = {}
        if cue_labels is not None:
            clip = validate_clip(cue_labels, data_root, loop)
            scores |= {"blinks": _rounded(clip["blinks"]), "touch": _rounded(clip["touch"])}
        if cue_events is not None:
            scores["events"] = _rounded(validate_events(cue_events, data_root, loop)["all_clips"])
        cues[name] = scores
    if cues["exact"]:
        results["cues"] = cues | {"unchanged": cues["exact"] == cues["default"]}
    return results


def _rounded(value):
    """Floats (numpy's too) to 4 places, inside dicts and lists."""
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return round(float(value), 4) if isinstance(value, (float, np.floating)) else value



def agreement_text(agreement: dict) -> str:
    """The nothing-lost figures as sentences."""
    labels = agreement["labels"]
    text = (f"\nAgainst the detector on every frame: the labels agree on {100 * labels['label_agreement']:.1f}% of "
            f"the clip's {labels['reference_faces']} face-frames; of the faces found on every frame, "
            f"{100 * agreement['recall_all_clips']:.2f}% are found on "
            + ", ".join(f"{name} ({100 * c['recall']:.2f}%)" if c["recall"] is not None else f"{name} (no faces)"
                        for name, c in agreement["clips"].items()) + ".")
    if "cues" in agreement:
        cues = agreement["cues"]
        parts = []
        for name, label in (("blinks", "blinks"), ("touch", "touch frames")):
            if name in cues["default"]:
                d, e = cues["default"][name], cues["exact"][name]
                parts.append(f"{label} precision {d['precision']:.2f} / recall {d['recall']:.2f} "
                             f"(every frame: {e['precision']:.2f} / {e['recall']:.2f})")
        if "events" in cues["default"]:
            d, e = cues["default"]["events"]["blinks"], cues["exact"]["events"]["blinks"]
            parts.append(f"blink events precision {d['precision']:.2f} / recall {d['recall']:.2f} "
                         f"(every frame: {e['precision']:.2f} / {e['recall']:.2f})")
        text += (" `validate-cues`: " + "; ".join(parts) + "; every cue score "
                 + ("unchanged." if cues["unchanged"] else "**changed** (see the JSON)."))
    return text + "\n"
