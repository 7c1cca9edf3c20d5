"""Score the cues against frame labels made by looking at real clips.

Blink counts and face touches: ``tests/fixtures/labels/<clip>.json`` (how they were made is written
inside), ``emoscope validate-cues LABELS``. Blink kinematics, long closures, nods, shakes and
looking away: ``tests/fixtures/cue_labels/events.csv`` (one row per labelled event, how they were
made in the README beside it), ``emoscope validate-cues --events CSV``. Both run the real pipeline
on the clips and print the scores.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

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


def _run_clip(video_path: Path, frames: int, options=None):
    """The real loop (detection, face mesh, hands; a constant expression model) over a clip's first
    ``frames`` frames: each frame's result, in order. ``options``: the loop's (default: the defaults)."""
    from emoscope.video.pipeline import AnalysisOptions, FrameAnalyzer
    from emoscope.video.source import VideoSource

    analyzer = FrameAnalyzer(ConstantPredictor(), (options or AnalysisOptions()).model_copy(update={"gaze": False}))
    try:
        with VideoSource(video_path) as video:
            for result in analyzer.run(video):
                if result.index >= frames:
                    break
                yield result
    finally:
        analyzer.close()


def validate_clip(labels_path: Path, data_root: Path, options=None) -> dict:
    """Run detection, face mesh and hands on the labelled clip; score blinks and touches. ``options``:
    the loop's :class:`~emoscope.video.pipeline.AnalysisOptions` (default: the defaults)."""
    labels = json.loads(Path(labels_path).read_text())
    video_path = Path(data_root) / labels["video"]
    if not video_path.is_file():
        raise DataError(f"{video_path}: labelled clip not found")

    blink_frames, touching = [], np.zeros(labels["frames"], dtype=bool)
    for result in _run_clip(video_path, labels["frames"], options):
        for face in result.faces:
            if face.data.get("blink"):
                blink_frames.append(result.index)
            touching[result.index] |= bool(face.data.get("touching") and face.data.get("hand_on_face"))
    return {"clip": labels["video"], "blinks": score_blinks(blink_frames, labels) | {"frames": blink_frames},
            "touch": score_touch(touching, labels)}


# -- events: blink kinematics, long closures, nods, shakes, looking away ---------------------------
EVENT_KINDS = ("blink", "long_closure", "ambiguous_closure", "look_away", "nod", "shake")
EVENT_COLUMNS = ("clip", "frames", "event", "start_frame", "end_frame", "closed_start", "closed_end")


def read_event_labels(path: Path) -> pd.DataFrame:
    """The labelled events, checked: one clear error for a malformed file."""
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable CSV ({exc})") from exc
    missing = [c for c in EVENT_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    unknown = sorted(set(table["event"]) - set(EVENT_KINDS))
    if unknown:
        raise DataError(f"{path}: unknown event(s) {', '.join(unknown)} (known: {', '.join(EVENT_KINDS)})")
    if (table["end_frame"] < table["start_frame"]).any():
        raise DataError(f"{path}: an event ends before it starts")
    return table


def match_spans(detected: list[tuple[int, int]], labelled: list[tuple[int, int]],
                ignore: list[tuple[int, int]] = ()) -> dict:
    """Events matched one to one by overlap of their frame spans (inclusive), in time order. A
    detection overlapping an ignored span and no labelled event is not scored."""
    matched: dict[int, int] = {}  # detection -> label
    used: set[int] = set()
    overlaps = lambda a, b: a[0] <= b[1] and b[0] <= a[1]  # noqa: E731
    for i, span in enumerate(detected):
        hit = next((j for j, label in enumerate(labelled) if j not in used and overlaps(span, label)), None)
        if hit is not None:
            matched[i] = hit
            used.add(hit)
    false_positives = sum(1 for i, span in enumerate(detected)
                          if i not in matched and not any(overlaps(span, other) for other in ignore))
    tp = len(matched)
    return {"labelled": len(labelled), "detected": len(detected), "true_positives": tp,
            "false_positives": false_positives, "false_negatives": len(labelled) - tp,
            "precision": tp / (tp + false_positives) if tp + false_positives else None,
            "recall": tp / len(labelled) if labelled else None, "pairs": matched}


def _frame_scores(active: np.ndarray, truth: np.ndarray) -> dict:
    tp = int((active & truth).sum())
    return {"labelled_frames": int(truth.sum()), "detected_frames": int(active.sum()),
            "precision": tp / int(active.sum()) if active.any() else None,
            "recall": tp / int(truth.sum()) if truth.any() else None,
            "iou": tp / int((active | truth).sum()) if (active | truth).any() else None}


def _spans(flags: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) frame of each run of True."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), (np.flatnonzero(edges == -1) - 1).tolist()))


def _clip_detections(video_path: Path, frames: int, options=None) -> dict:
    """What the cues found in a clip, in frames: the blink-kinematics and head-pose cues' own report
    sections (blinks, long closures, nods, shakes) and the frames with the lids shut and looking
    away (the first face of each frame: one person per clip)."""
    from emoscope.cues.blink_kinematics import BlinkKinematics
    from emoscope.cues.head_pose import HeadPose
    from emoscope.video.pipeline import AnalysisOptions

    eyes, head = (cue(AnalysisOptions(), ConstantPredictor.classes).accumulator() for cue in (BlinkKinematics, HeadPose))
    times = np.full(frames, np.inf)
    shut, away = np.zeros(frames, dtype=bool), np.zeros(frames, dtype=bool)
    for result in _run_clip(video_path, frames, options):
        times[result.index] = result.time
        if result.faces:
            data = result.faces[0].data
            shut[result.index], away[result.index] = bool(data.get("lids_shut")), bool(data.get("looking_away"))
            eyes.add(result.time, data)
            head.add(result.time, data)
    frame_dt = float(np.median(np.diff(times[np.isfinite(times)])))
    frame = lambda time: int(np.searchsorted(times, time - frame_dt / 2))  # noqa: E731  (the frame at a time)
    blinks = eyes.section(frame_dt)
    pose = head.section(frame_dt)
    return {
        # a closure lasts until the frame the eyes are open again, exclusive
        "blinks": [(frame(b.start), frame(b.start + b.duration) - 1) for b in blinks.per_blink],
        "long_closures": [(frame(start), frame(start + duration) - 1) for start, duration in blinks.long_closures],
        "gestures": {"nod": [(frame(a), frame(b)) for a, b in pose.nods],
                     "shake": [(frame(a), frame(b)) for a, b in pose.shakes]},
        "shut": shut, "away": away}


def score_blink_kinematics(blinks: list[tuple[int, int]], shut: np.ndarray, labels: pd.DataFrame) -> dict:
    """Blink events (overlap), and for each matched blink its duration and shut time against the
    labels, in frames (detected minus labelled)."""
    labelled = labels[labels["event"] == "blink"]
    spans = list(zip(labelled["start_frame"], labelled["end_frame"]))
    ignore = [tuple(r) for r in labels.loc[labels["event"].isin(["ambiguous_closure", "long_closure"]),
                                           ["start_frame", "end_frame"]].to_numpy()]
    scores = match_spans(blinks, spans, ignore)
    duration_error, start_error, closed_error = [], [], []
    for i, j in scores.pop("pairs").items():
        (d0, d1), row = blinks[i], labelled.iloc[j]
        duration_error.append((d1 - d0) - (row["end_frame"] - row["start_frame"]))
        start_error.append(d0 - row["start_frame"])
        if not pd.isna(row["closed_start"]):
            closed_error.append(int(shut[d0 : d1 + 1].sum()) - int(row["closed_end"] - row["closed_start"] + 1))
    return scores | {"duration_error_frames": [int(e) for e in duration_error],
                     "start_error_frames": [int(e) for e in start_error],
                     "shut_error_frames": closed_error}


def validate_events(labels_path: Path, data_root: Path, options=None) -> dict:
    """Run the loop (``options``: default the defaults) on every clip in the events CSV; score each cue
    per clip and over all clips."""
    labels = read_event_labels(Path(labels_path))
    clips, totals = [], defaultdict(lambda: defaultdict(int))
    errors = defaultdict(list)
    look_frames = {"active": [], "truth": []}
    for clip, rows in labels.groupby("clip", sort=False):
        video_path = Path(data_root) / clip
        if not video_path.is_file():
            raise DataError(f"{video_path}: labelled clip not found")
        frames = int(rows["frames"].iloc[0])
        found = _clip_detections(video_path, frames, options)
        spans_of = lambda kind: list(zip(rows.loc[rows["event"] == kind, "start_frame"],  # noqa: E731
                                         rows.loc[rows["event"] == kind, "end_frame"]))
        truth = _ranges_to_mask([list(s) for s in spans_of("look_away")], frames)
        scores = {
            "blinks": score_blink_kinematics(found["blinks"], found["shut"], rows),
            "long_closures": match_spans(found["long_closures"], spans_of("long_closure")),
            "nods": match_spans(found["gestures"]["nod"], spans_of("nod")),
            "shakes": match_spans(found["gestures"]["shake"], spans_of("shake")),
            "look_away_episodes": match_spans(_spans(found["away"]), spans_of("look_away")),
            "look_away_frames": _frame_scores(found["away"], truth),
        }
        for name, score in scores.items():
            score.pop("pairs", None)
            for key in ("labelled", "detected", "true_positives", "false_positives", "false_negatives"):
                if key in score:
                    totals[name][key] += score[key]
        for key in ("duration_error_frames", "start_error_frames", "shut_error_frames"):
            errors[key].extend(scores["blinks"][key])
        look_frames["active"].append(found["away"])
        look_frames["truth"].append(truth)
        clips.append({"clip": clip, "frames": frames} | scores)
    summary = {}
    for name, counts in totals.items():
        tp, fp = counts["true_positives"], counts["false_positives"]
        summary[name] = dict(counts) | {"precision": tp / (tp + fp) if tp + fp else None,
                                        "recall": tp / counts["labelled"] if counts["labelled"] else None}
    summary["look_away_frames"] = _frame_scores(np.concatenate(look_frames["active"]),
                                                np.concatenate(look_frames["truth"]))
    def mean_of(values: list[int], absolute: bool = True) -> float | None:
        return float(np.mean(np.abs(values) if absolute else values)) if values else None

    durations = errors["duration_error_frames"]
    summary["blink_duration_error_frames"] = {
        "mean_absolute": mean_of(durations), "mean_signed": mean_of(durations, absolute=False),
        "start_mean_absolute": mean_of(errors["start_error_frames"]),
        "shut_mean_absolute": mean_of(errors["shut_error_frames"]), "blinks": len(durations)}
    return {"labels": str(labels_path), "clips": clips, "all_clips": summary}
