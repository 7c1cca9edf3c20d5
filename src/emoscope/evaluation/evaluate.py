"""Evaluate a predictor on a labelled image set and write the report (JSON + figures)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from emoscope.data.imageset import ImageSet
from emoscope.errors import DataError, EmoscopeError
from emoscope.evaluation.groups import MIN_GROUP_SIZE, assign_groups, check_group_sizes, evaluate_groups
from emoscope.evaluation.metrics import classification_metrics, undefined_as_none
from emoscope.files import write_text_atomic
from emoscope.runtime.predictor import Predictor


PREDICTION_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def encode_predictions(predicted: np.ndarray) -> str:
    """Predicted class indices as one base-36 digit each, in the split's order: a whole split's predictions
    in a few kilobytes of JSON, from which a card's numbers follow ("" beyond 36 classes)."""
    predicted = np.asarray(predicted)
    if predicted.size and predicted.max() >= len(PREDICTION_DIGITS):
        return ""
    return "".join(PREDICTION_DIGITS[i] for i in predicted)


def decode_predictions(text: str) -> np.ndarray:
    return np.array([PREDICTION_DIGITS.index(c) for c in text], dtype=np.int64)


def align_labels(images: ImageSet, predictor: Predictor) -> ImageSet:
    """Bring the data onto the model's classes (e.g. FER2013's 7 for a 5-class model)."""
    model_labels = predictor.spec.labels
    if images.label_set.classes == model_labels.classes:
        return images
    if set(images.label_set.classes) & set(model_labels.classes):
        return images.to_label_set(model_labels)
    raise EmoscopeError(
        f"the model predicts {', '.join(model_labels.classes)} but {images.source} is labelled "
        f"{', '.join(images.label_set.classes)}"
    )


def evaluate(predictor: Predictor, images: ImageSet, split: str, tta: str = "none", *,
             groups: Mapping[str, str] | None = None, groups_source: str = "groups file", n_boot: int = 1000,
             min_group: int = MIN_GROUP_SIZE) -> dict:
    """Metrics of ``predictor`` on ``images`` (the split is named in the result); ``None`` for a metric
    the split leaves undefined, such as ROC-AUC on a split with one class.

    ``groups`` (image id -> group, :func:`~emoscope.evaluation.groups.read_groups_csv`) adds a
    ``groups`` section: :func:`~emoscope.evaluation.groups.evaluate_groups` on the images that have a
    group, with ``n_boot`` resamples; group sizes are checked before anything is predicted."""
    images = align_labels(images, predictor)
    if len(images) == 0:
        raise DataError(f"{images.source}: split {split} has no images to evaluate on")
    assignment = None
    if groups is not None:
        assignment = assign_groups(images, groups, groups_source)
        check_group_sizes(assignment.sizes(), min_group)  # before minutes of prediction
    start = time.perf_counter()
    probs = predictor.predict_proba(images.images, tta=tta)
    seconds = time.perf_counter() - start
    classes = list(predictor.spec.classes)
    metrics = classification_metrics(images.labels, probs, classes)
    if assignment is not None:
        metrics["groups"] = {
            "file": groups_source,
            **assignment.summary(),
            **evaluate_groups(images.labels[assignment.index], probs[assignment.index], assignment.groups,
                              classes, n_boot=n_boot, min_size=min_group),
        }
    return undefined_as_none({
        "model": predictor.spec.name,
        "architecture": predictor.spec.architecture,
        "source": predictor.source,
        "backend": predictor.backend,
        "dataset": images.source,
        "split": split,
        "tta": tta,
        "faces_per_s": len(images) / seconds if seconds > 0 else None,
        **metrics,
        "predictions": encode_predictions(probs.argmax(axis=1)),
    })


def write_report(report: dict, out_dir: str | Path, stem: str = "eval") -> dict[str, Path]:
    """``<stem>.json`` and ``<stem>_confusion.png`` in ``out_dir``."""
    from emoscope.evaluation.plots import plot_confusion

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / f"{stem}.json"
    write_text_atomic(json_path, json.dumps(undefined_as_none(report), indent=1, allow_nan=False))
    cm_path = plot_confusion(
        report["confusion_matrix"], list(report["per_class"]), out / f"{stem}_confusion.png",
        title=f"{report['model']} on {report['split']} (acc {report['accuracy']:.3f})",
    )
    return {"json": json_path, "confusion": cm_path}

