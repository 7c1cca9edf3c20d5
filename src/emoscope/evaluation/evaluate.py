"""Evaluate a predictor on a labelled image set and write the report (JSON + figures)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from emoscope.data.imageset import ImageSet
from emoscope.errors import DataError, EmoscopeError
from emoscope.evaluation.metrics import classification_metrics, undefined_as_none
from emoscope.runtime.predictor import Predictor


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


def evaluate(predictor: Predictor, images: ImageSet, split: str, tta: str = "none") -> dict:
    """Metrics of ``predictor`` on ``images`` (the split is named in the result); ``None`` for a metric
    the split leaves undefined, such as ROC-AUC on a split with one class."""
    images = align_labels(images, predictor)
    if len(images) == 0:
        raise DataError(f"{images.source}: split {split} has no images to evaluate on")
    start = time.perf_counter()
    probs = predictor.predict_proba(images.images, tta=tta)
    seconds = time.perf_counter() - start
    metrics = classification_metrics(images.labels, probs, list(predictor.spec.classes))
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
    })


def write_report(report: dict, out_dir: str | Path, stem: str = "eval") -> dict[str, Path]:
    """``<stem>.json`` and ``<stem>_confusion.png`` in ``out_dir``."""
    from emoscope.evaluation.plots import plot_confusion

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / f"{stem}.json"
    json_path.write_text(json.dumps(undefined_as_none(report), indent=1, allow_nan=False))
    cm_path = plot_confusion(
        report["confusion_matrix"], list(report["per_class"]), out / f"{stem}_confusion.png",
        title=f"{report['model']} on {report['split']} (acc {report['accuracy']:.3f})",
    )
    return {"json": json_path, "confusion": cm_path}

