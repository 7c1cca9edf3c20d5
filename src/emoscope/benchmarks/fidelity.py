"""`emoscope bench pipeline`: does accuracy survive detection, alignment and cropping?

FER2013 faces are placed into larger frames (upscaled, rotated in-plane, offset, on a plain or a
cluttered background) where the face's true square is known. Each detector then runs the product's
own path (detect -> align -> crop -> model) and is scored on detection recall, on accuracy over the
faces it found, and against the same model on the original 48x48 crops of those faces: the gap is
what the pipeline costs. The frames are made from a seed, so every run sees the same ones.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass, replace

import numpy as np

from emoscope.faces import classify_views, create_detector, crop_faces, framing_zooms
from emoscope.faces.align import eye_roll_degrees
from emoscope.faces.detections import CropFraming, Detections

FRAME_SIZE = (640, 480)
SCALES = (2.0, 6.0)
"""Upscaling of the 48x48 faces: 96 to 288 px faces in a 640x480 frame."""
SIDE_BINS = (96, 160, 224, 289)
"""Face sides (px) the recall is also reported by."""
MAX_ROTATION = 15.0
BACKGROUNDS = ("plain", "cluttered")
TRUTH = "truth"
"""The row of a perfect detector: each face's true square and roll, so its gap is what placing a face
into a frame and cropping it back out costs (resampling), apart from any detector's errors."""
Z_95 = 1.96
"""Normal quantile of a two-sided 95% interval."""
MATCH_IOU = 0.3
"""A detection counts as the face when its box overlaps the true square this much (detectors frame
faces tighter or looser than FER2013's crops, so a strict IoU would miss correct detections)."""


@dataclass(frozen=True)
class PlacedFace:
    frame: np.ndarray  # uint8 HxWx3 BGR
    truth: np.ndarray  # the face's square (x1, y1, x2, y2) before rotation: what the model was trained on
    scale: float
    angle: float
    background: str


def cluttered_background(rng: np.random.Generator, size: tuple[int, int] = FRAME_SIZE) -> np.ndarray:
    """Low-frequency grey texture with random edges (rectangles, lines, discs): structure a detector
    could mistake for features, with no face in it."""
    import cv2

    width, height = size
    coarse = rng.integers(0, 256, size=(height // 32 + 1, width // 32 + 1), dtype=np.uint8)
    image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(8, 16))):
        shade = int(rng.integers(0, 256))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        kind = rng.integers(0, 3)
        if kind == 0:
            cv2.rectangle(image, (x, y), (x + int(rng.integers(20, 200)), y + int(rng.integers(20, 200))), shade, -1)
        elif kind == 1:
            cv2.line(image, (x, y), (int(rng.integers(0, width)), int(rng.integers(0, height))), shade,
                     int(rng.integers(1, 8)))
        else:
            cv2.circle(image, (x, y), int(rng.integers(5, 60)), shade, -1)
    return image


def place_face(face: np.ndarray, rng: np.random.Generator, background: str) -> PlacedFace:
    """One 48x48 gray face upscaled, rotated about its centre and pasted at a random spot."""
    import cv2

    width, height = FRAME_SIZE
    scale = float(rng.uniform(*SCALES))
    angle = float(rng.uniform(-MAX_ROTATION, MAX_ROTATION))
    side = face.shape[0] * scale
    # Keep the rotated square inside the frame: its half diagonal from the centre.
    reach = side * math.sqrt(2) / 2 + 2
    cx, cy = float(rng.uniform(reach, width - reach)), float(rng.uniform(reach, height - reach))
    if background == "plain":
        frame = np.full((height, width), int(rng.integers(40, 220)), np.uint8)
    else:
        frame = cluttered_background(rng)
    # Face pixel (u, v) -> frame: scale about the face centre, rotate by `angle`, move to (cx, cy).
    # Pixel centres sit at integer coordinates, so the face's centre is (47/2, 47/2), not (24, 24).
    centre = ((face.shape[1] - 1) / 2, (face.shape[0] - 1) / 2)
    matrix = cv2.getRotationMatrix2D(centre, angle, scale)
    matrix[:, 2] += (cx - centre[0], cy - centre[1])
    cv2.warpAffine(face, matrix, (width, height), dst=frame, flags=cv2.INTER_CUBIC,
                   borderMode=cv2.BORDER_TRANSPARENT)
    truth = np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], np.float32)
    return PlacedFace(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR), truth, scale, angle, background)


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return inter / (area(box) + area(boxes) - inter + 1e-9)


def matching_face(detections: Detections, truth: np.ndarray) -> Detections:
    """The detection of the placed face (best overlap above :data:`MATCH_IOU`), or none."""
    if len(detections) == 0:
        return detections
    overlaps = iou(truth, detections.boxes)
    best = int(overlaps.argmax())
    return detections.select([best]) if overlaps[best] >= MATCH_IOU else Detections.empty()


def gap_half_width(correct_pipeline: np.ndarray, correct_original: np.ndarray) -> float | None:
    """Half the width (points) of the normal 95% interval of the accuracy gap between two scorings of
    the same faces (None for fewer than two). The faces are paired, so only those the two score
    differently add error, yet with ~850 faces found it is still a few points."""
    if len(correct_pipeline) < 2:
        return None
    diff = correct_pipeline.astype(np.float64) - correct_original.astype(np.float64)
    return round(100 * Z_95 * float(diff.std(ddof=1)) / math.sqrt(len(diff)), 2)


def framing_error(box: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """How a detector frames a face against the model's training crop: the truth's side over the
    crop's side, and the crop centre's offset (x, y) in truth sides."""
    side = max(box[2] - box[0], box[3] - box[1])
    truth_side = truth[2] - truth[0]
    return (float(truth_side / side), float(((box[0] + box[2]) - (truth[0] + truth[2])) / 2 / truth_side),
            float(((box[1] + box[3]) - (truth[1] + truth[3])) / 2 / truth_side))


def framing_spread(faces: list[PlacedFace], matches: list[Detections]) -> dict:
    """How far single crops scatter about the true square, as the 10th and 90th percentiles of the
    crop's side over the true side and of the eye line's error against the true roll (degrees;
    None for a detector without keypoints)."""
    sides = [match.framing.square(match.boxes[0])[2] / (face.truth[2] - face.truth[0]) for face, match in zip(faces, matches)]
    spread = {"side_ratio_p10_p90": [round(float(v), 3) for v in np.percentile(sides, [10, 90])]}
    if matches[0].keypoints is not None:
        # the crop levels the eye line; the true roll is the placement's turn, -angle in eye_roll_degrees' terms
        rolls = [eye_roll_degrees(match.keypoints[0]) + face.angle for face, match in zip(faces, matches)]
        spread["roll_error_p10_p90"] = [round(float(v), 1) + 0.0 for v in np.percentile(rolls, [10, 90])]  # no -0.0
    else:
        spread["roll_error_p10_p90"] = None
    return spread


def truth_detection(face: PlacedFace) -> Detections:
    """The placed face as a perfect detector reports it: its true square framed 1:1, and eyes on a
    line at its true roll (the crop levels them, undoing the placement's rotation)."""
    centre = (face.truth[:2] + face.truth[2:]) / 2
    angle = math.radians(face.angle)
    # A counter-clockwise turn on screen (y down) tilts the eye line to (cos, -sin).
    half_eyes = (face.truth[2] - face.truth[0]) / 4 * np.array([math.cos(angle), -math.sin(angle)])
    keypoints = np.stack([centre - half_eyes, centre + half_eyes, centre, centre, centre])
    return Detections(face.truth[None], np.ones(1), keypoints[None], framing=CropFraming(scale=1.0))


def placed_faces(faces: np.ndarray, seed: int) -> list[PlacedFace]:
    """Every face placed once, half on plain backgrounds and half on cluttered ones."""
    rng = np.random.default_rng(seed)
    return [place_face(face, rng, BACKGROUNDS[index % 2]) for index, face in enumerate(faces)]


def run_detector(name: str, placed: list[PlacedFace], predictors: list, labels: list[np.ndarray],
                 original_probs: list[np.ndarray], baseline: bool = False, framing_views: bool = False) -> list[dict]:
    """One detector's rows, one per predictor, from a single detection pass: recall, accuracy on the
    faces found, the original crops' accuracy on the same faces, and how the detector frames faces
    (medians). ``labels`` are each predictor's class indices of the faces, -1 where the face's class
    is not one of its classes (such faces are not scored). ``baseline``: the pipeline as it was
    before per-detector framing and the tile pass (every crop 1.2x the box, one pass per frame).
    ``framing_views``: each face scored by the mean over crops at :data:`~emoscope.faces.FRAMING_VIEWS`
    zooms of its framing, as ``emoscope predict --framing-views`` does. For a detector with eyes,
    ``gap_true_roll_points`` is the gap with its squares but each face's true roll, and
    ``gap_true_square_points`` with the true squares levelled by its eye line: which of the two
    costs the accuracy."""
    zooms = framing_zooms(framing_views)
    found, matches = [], []
    with (nullcontext() if name == TRUTH else create_detector(name, **({"tiles": False} if baseline else {}))) as detector:
        for index, face in enumerate(placed):
            match = truth_detection(face) if name == TRUTH else matching_face(detector.detect(face.frame), face.truth)
            if len(match) == 0:
                continue
            if baseline and name != TRUTH:
                match = replace(match, framing=CropFraming())
            found.append(index)
            matches.append(match)
    found = np.array(found, dtype=np.int64)
    shared = {"detector": name, "faces": len(placed), "found": len(found), "recall": round(len(found) / len(placed), 4)}
    by_background = {kind: [i for i, face in enumerate(placed) if face.background == kind] for kind in BACKGROUNDS}
    for kind, members in by_background.items():
        shared[f"recall_{kind}"] = round(float(np.isin(members, found).mean()), 4) if members else None
    sides = np.array([face.truth[2] - face.truth[0] for face in placed])
    shared["recall_by_face_side"] = {
        f"{low:.0f}-{high:.0f}px": round(float(np.isin(np.flatnonzero((sides >= low) & (sides < high)), found).mean()), 4)
        for low, high in zip(SIDE_BINS[:-1], SIDE_BINS[1:]) if ((sides >= low) & (sides < high)).any()}
    if len(found):
        scale, dx, dy = np.median([framing_error(match.boxes[0], placed[i].truth) for i, match in zip(found, matches)], axis=0)
        # The CropFraming that would put this detector's median crop on the true square (in box sides).
        shared["fitted_framing"] = {"scale": round(float(scale), 3), "dx": round(float(-dx * scale), 3),
                                    "dy": round(float(-dy * scale), 3)}
        shared["framing_spread"] = framing_spread([placed[i] for i in found], matches)
    has_eyes = name != TRUTH and bool(matches) and matches[0].keypoints is not None
    rows = []
    for predictor, classes, original in zip(predictors, labels, original_probs):
        row = {"model": predictor.spec.name, **shared}
        scored = [(i, match) for i, match in zip(found, matches) if classes[i] >= 0]
        if scored:
            kept = np.array([i for i, _ in scored])
            truth = classes[kept]

            def correct_on(detections: list[Detections]) -> np.ndarray:
                crops = [crop for i, faces in zip(kept, detections)
                         for crop in crop_faces(placed[i].frame, faces, predictor.spec, zooms=zooms)]
                return classify_views(predictor, crops, len(zooms)).argmax(1) == truth

            detected = [match for _, match in scored]
            correct, correct_original = correct_on(detected), original[kept].argmax(1) == truth
            row["accuracy_found"] = round(float(correct.mean()), 4)
            row["accuracy_original_found"] = round(float(correct_original.mean()), 4)
            row["gap_points"] = round(100 * (row["accuracy_found"] - row["accuracy_original_found"]), 2)
            row["gap_ci95_points"] = gap_half_width(correct, correct_original)
            if has_eyes:
                perfect = [truth_detection(placed[i]) for i in kept]
                true_roll = [replace(found_face, keypoints=p.keypoints) for found_face, p in zip(detected, perfect)]
                true_square = [replace(p, keypoints=found_face.keypoints) for found_face, p in zip(detected, perfect)]
                for key, variant in (("gap_true_roll_points", true_roll), ("gap_true_square_points", true_square)):
                    row[key] = round(100 * float(correct_on(variant).mean() - correct_original.mean()), 2)
        rows.append(row)
    return rows


def bench_pipeline(predictors: list, detectors: list[str], faces: int = 600, seed: int = 0, split: str = "test",
                   baseline: bool = False, framing_views: bool = False) -> dict:
    """The fidelity table: for each detector, one row per predictor, all on the same placed faces from
    ``split`` and the same detections (``baseline``, ``framing_views``: see :func:`run_detector`; the
    original crops are always one view, so the gap is against the model's own single-view number)."""
    from emoscope.benchmarks.classifier_speed import check_fer2013_model  # the video pipeline's import tree, only when run
    from emoscope.data import load_dataset
    from emoscope.data.splits import stratified_sample

    for predictor in predictors:
        check_fer2013_model(predictor, "pipeline")
    dataset = load_dataset("fer2013", split=split)
    chosen = dataset.subset(stratified_sample(dataset.labels, min(faces, len(dataset)), seed=seed))
    placed = placed_faces(chosen.images, seed)
    labels = [chosen.label_set.mapping_to(predictor.spec.labels)[chosen.labels] for predictor in predictors]
    original_probs = [predictor.predict_proba(list(chosen.images)) for predictor in predictors]
    rows = [row for name in detectors
            for row in run_detector(name, placed, predictors, labels, original_probs, baseline, framing_views)]
    return {"models": [predictor.spec.name for predictor in predictors], "split": f"fer2013:{split}",
            "faces": len(placed), "seed": seed, "pipeline": "baseline" if baseline else "current",
            "framing_views": list(framing_zooms(framing_views)),
            "accuracy_original_all": {predictor.spec.name: round(float((probs.argmax(1) == classes)[classes >= 0].mean()), 4)
                                      for predictor, classes, probs in zip(predictors, labels, original_probs)},
            "frame_size": list(FRAME_SIZE), "scales": list(SCALES), "max_rotation_degrees": MAX_ROTATION,
            "match_iou": MATCH_IOU, "rows": rows}


def fidelity_table(results: dict) -> str:
    """docs/accuracy.md's Markdown table of :func:`bench_pipeline` results."""
    originals = ", ".join(f"{name} {accuracy:.4f}" for name, accuracy in results["accuracy_original_all"].items())
    views = results.get("framing_views", [1.0])
    scoring = (f"pipeline crops scored as the mean over {len(views)} framing views ({', '.join(f'{v:g}x' for v in views)}) "
               "against the original crops' single view" if len(views) > 1 else "one crop per face")
    lines = [f"{results['faces']} {results['split']} faces ({results['pipeline']} pipeline; {scoring}) placed into "
             f"{results['frame_size'][0]}x{results['frame_size'][1]} frames (upscaled {results['scales'][0]:g}-"
             f"{results['scales'][1]:g}x, rotated up to ±{results['max_rotation_degrees']:g}°, half on cluttered "
             f"backgrounds); on the original 48x48 crops: {originals}. `{TRUTH}` is a perfect detector (each "
             "face's true square and roll). The gap's ± is its paired 95% interval.", "",
             "| detector | recall | recall plain / cluttered | model | accuracy on found | original crops, same faces | gap (points) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in results["rows"]:
        found = "- | - | -"
        if "accuracy_found" in row:
            half_width = row.get("gap_ci95_points")
            found = (f"{row['accuracy_found']:.4f} | {row['accuracy_original_found']:.4f} | {row['gap_points']:+.2f}"
                     f" ± {'?' if half_width is None else f'{half_width:.2f}'}")
        lines.append(f"| {row['detector']} | {row['recall']:.4f} | {row['recall_plain']:.2f} / "
                     f"{row['recall_cluttered']:.2f} | {row['model']} | {found} |")
    return "\n".join(lines) + "\n"
