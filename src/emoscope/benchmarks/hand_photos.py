"""Gestures judged on real photos of hands (``emoscope bench gestures SET``), and the landmark model
fitted on the part of such a set that is developed on.

Each photo is read in several views, so one photo set tests what the issue asks of a camera hand:
as photographed, mirrored (the other hand), tilted 30 degrees either way, and small in a larger frame
(the hand about a third of the frame height). Every view goes through the product's own path
(:class:`~emoscope.gestures.classifier.GestureClassifier` on a still image) and is read both by the
combined route (the landmark model) and by the hand-set rules, from the same detected landmarks.
A letter's cell is the share read as that letter; "other" shapes' cell the share taken for any of
the four letters. A photo where no hand is found counts as a miss for a letter and as a correct
rejection for another shape.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from emoscope.data.hand_photos import HandPhoto
from emoscope.gestures.classifier import GestureClassifier, GestureOptions, decide
from emoscope.gestures.crop import hand_crop
from emoscope.gestures.features import hand_features
from emoscope.gestures.kinematics import LETTER_SIGNS, SIGNS, generate
from emoscope.gestures.landmark_model import SHIPPED as SHIPPED_LANDMARK_MODEL
from emoscope.gestures.landmark_model import CLASSES, LandmarkModel, fit_landmark_model
from emoscope.gestures.vocabulary import NO_HAND, UNKNOWN

TILT_DEGREES = 30.0
SMALL_FRAME = 3.0
"""The "small" view puts the photo in a black frame this many times its side (then 640 px a side)."""
VIEW_LIMIT = 640


def _tilted(image: np.ndarray, degrees: float) -> np.ndarray:
    """Rotated about its centre inside a frame large enough to keep every corner."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    side_w, side_h = int(height * sin + width * cos), int(height * cos + width * sin)
    matrix[:, 2] += ((side_w - width) / 2, (side_h - height) / 2)
    return cv2.warpAffine(image, matrix, (side_w, side_h), borderValue=(0, 0, 0))


def _small(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    frame = np.zeros((int(height * SMALL_FRAME), int(width * SMALL_FRAME), 3), np.uint8)
    top, left = int(height * (SMALL_FRAME - 1) * 0.6), int(width * (SMALL_FRAME - 1) * 0.3)  # off centre
    frame[top:top + height, left:left + width] = image
    scale = VIEW_LIMIT / max(frame.shape[:2])
    return cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


VIEWS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "as photographed": lambda image: image,
    "mirrored": lambda image: cv2.flip(image, 1),
    "tilted +30": lambda image: _tilted(image, TILT_DEGREES),
    "tilted -30": lambda image: _tilted(image, -TILT_DEGREES),
    "small": _small,
}
HANDEDNESS_VIEWS = ("as photographed", "mirrored")
"""The views the fitting uses and the test checks: both hands, no added geometry."""


ROUTES = {"model": "combined route (landmark model)", "rules": "rules route (the decision before this model)",
          "crop": "crop model on the hand's crop"}


@dataclass(frozen=True)
class PhotoReading:
    path: str
    label: str
    person: str
    view: str
    landmarks: np.ndarray | None  # the biggest hand's (21, 3), or None when no hand was found
    model: str  # what the combined route says: a letter, "unknown" or "no hand"
    rules: str  # what the rules route says
    crop: str  # what the crop model says of the hand's crop ("" when it was not asked)

    def read_as(self, route: str) -> str:
        return getattr(self, route)

    def right(self, route: str) -> bool:
        """A letter read as itself; another shape read as none of the letters."""
        read = self.read_as(route)
        return read == self.label if self.label in LETTER_SIGNS else read in (UNKNOWN, NO_HAND)


def read_photos(photos: Iterable[HandPhoto], views: Iterable[str] = tuple(VIEWS),
                landmark_model: str | Path | None = SHIPPED_LANDMARK_MODEL,
                progress: Callable[[int], None] = lambda done: None) -> list[PhotoReading]:
    """Every photo in every view through the still-image gesture path, read by the combined route, the
    rules and the crop model (by the rules alone when ``landmark_model`` is None, as when collecting
    landmarks to fit one)."""
    rules = GestureOptions(route="rules")
    classifier = GestureClassifier(GestureOptions() if landmark_model else rules, still=True,
                                   landmark_model=landmark_model or SHIPPED_LANDMARK_MODEL)
    readings = []
    try:
        for done, photo in enumerate(photos, 1):
            image = photo.image()
            for view in views:
                shown = VIEWS[view](image)
                frame = classifier.classify(shown)
                if not frame.hands:
                    readings.append(PhotoReading(photo.path, photo.label, photo.person, view, None, NO_HAND, NO_HAND,
                                                 NO_HAND))
                    continue
                hand = frame.hands[0]  # the biggest
                by_rules = decide({}, hand.rule_scores, rules)[1]
                by_crop = ""
                if landmark_model:
                    by_crop = classifier.classify_crops([hand_crop(shown, hand.hand.landmarks)])[0].letter or UNKNOWN
                readings.append(PhotoReading(photo.path, photo.label, photo.person, view, hand.hand.landmarks,
                                             hand.letter or UNKNOWN, by_rules or UNKNOWN, by_crop))
            progress(done)
    finally:
        classifier.close()
    return readings


def summarise(readings: list[PhotoReading]) -> dict:
    """Per route, view and label: photos, share right and what the wrong ones were read as."""
    summary: dict = {}
    views = dict.fromkeys(r.view for r in readings)
    labels = [label for label in CLASSES if any(r.label == label for r in readings)]
    for route in ROUTES:
        if not any(r.read_as(route) for r in readings):
            continue  # the crop model was not asked
        for view in views:
            for label in labels:
                group = [r for r in readings if r.view == view and r.label == label]
                summary.setdefault(route, {}).setdefault(view, {})[label] = {
                    "photos": len(group), "people": len({r.person for r in group}),
                    "right": sum(r.right(route) for r in group) / len(group),
                    "wrong_readings": dict(Counter(r.read_as(route) for r in group if not r.right(route)))}
    return summary


def _cell(entry: dict, label: str) -> str:
    share = entry["right"] if label in LETTER_SIGNS else 1 - entry["right"]
    return f"{100 * share:.1f}%"


def markdown(summary: dict, part: str) -> str:
    """One table per route: rows are shapes, columns views; a letter's cell is the share recognised,
    "other"'s the share taken for a letter."""
    lines = []
    for route, title in ROUTES.items():
        if route not in summary:
            continue
        views = list(summary[route])
        first = summary[route][views[0]]
        lines += [f"**{part}, {title}**", "",
                  "| shape | photos (people) | measure | " + " | ".join(views) + " | wrong readings (all views) |",
                  "| --- " * (len(views) + 4) + "|"]
        for label, entry in first.items():
            measure = "recognised" if label in LETTER_SIGNS else "taken for A/F/L/V"
            wrong = sum((Counter(summary[route][view][label]["wrong_readings"]) for view in views), Counter())
            cells = " | ".join(_cell(summary[route][view][label], label) for view in views)
            misread = ", ".join(f"{read} {count}" for read, count in wrong.most_common()) or "-"
            lines.append(f"| {label} | {entry['photos']} ({entry['people']}) | {measure} | {cells} | {misread} |")
        lines.append("")
    return "\n".join(lines)


def readings_json(readings: list[PhotoReading]) -> list[dict]:
    return [{k: v for k, v in asdict(r).items() if k != "landmarks"} for r in readings]


REGULARISATION_CHOICES = (0.1, 0.3, 1.0, 3.0, 10.0)
GENERATED_PER_SHAPE = 100
GENERATED_FIT_SEED = 11
GENERATED_CHECK_SEED = 12


def generated_examples(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Generated hands of every letter and look-alike (labelled "other"): the hard negatives (S, T, E
    for A; U, K for V) that real photo sets rarely hold."""
    features, labels = [], []
    for sign in SIGNS:
        for hand in generate(sign, count, seed):
            features.append(hand_features(hand.landmarks))
            labels.append(sign if sign in LETTER_SIGNS else "other")
    return np.array(features), np.array(labels)


def _balanced_recall(model: LandmarkModel, features: np.ndarray, labels: np.ndarray) -> float:
    logits = (features - model.mean) / model.scale @ model.weights.T + model.bias
    predicted = np.array(CLASSES)[logits.argmax(axis=1)]
    return float(np.mean([np.mean(predicted[labels == c] == c) for c in CLASSES if (labels == c).any()]))


def fit_on_readings(readings: list[PhotoReading], provenance: dict) -> tuple[LandmarkModel, dict]:
    """The landmark model fitted on real hands (the readings' landmarks) plus generated ones.

    The regularisation is chosen by leaving one real person out at a time (with generated hands of
    another seed as a second check), then the model is refitted on everyone given. Returns the model
    and the selection table."""
    found = [r for r in readings if r.landmarks is not None]
    real_x = np.array([hand_features(r.landmarks) for r in found])
    real_y = np.array([r.label for r in found])
    people = np.array([r.person for r in found])
    gen_x, gen_y = generated_examples(GENERATED_PER_SHAPE, GENERATED_FIT_SEED)
    check_x, check_y = generated_examples(GENERATED_PER_SHAPE // 2, GENERATED_CHECK_SEED)
    selection = {}
    for choice in REGULARISATION_CHOICES:
        scores = []
        for person in sorted(set(people)):
            train = people != person
            model = fit_landmark_model(np.vstack([real_x[train], gen_x]), np.concatenate([real_y[train], gen_y]), choice)
            scores.append(_balanced_recall(model, real_x[~train], real_y[~train]))
        model = fit_landmark_model(np.vstack([real_x, gen_x]), np.concatenate([real_y, gen_y]), choice)
        selection[choice] = {"held_out_person": float(np.mean(scores)),
                             "generated_other_seed": _balanced_recall(model, check_x, check_y)}
    best = max(selection, key=lambda c: (selection[c]["held_out_person"] + selection[c]["generated_other_seed"], -c))
    model = fit_landmark_model(np.vstack([real_x, gen_x]), np.concatenate([real_y, gen_y]), best, {
        **provenance, "real_hands": len(found), "people": sorted(set(people)), "generated_per_shape": GENERATED_PER_SHAPE,
        "generated_seed": GENERATED_FIT_SEED, "regularisation": best,
        "selection": {str(c): v for c, v in selection.items()}})
    return model, selection
