"""`emoscope panic`: the panic study's protocol — stratified k-fold of binary panic models, and an
operating point chosen on validation data for a target recall, reported on the test split.

Two routes are compared on the same splits: (a) a dedicated binary model (calm / panic) trained
with class weights, and (b) the panic probability read from an expression model (the sum of its
panic classes). What counts as panic is :data:`emoscope.data.labels.PANIC_CLASSES` unless given.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from emoscope.cues.panic import panic_columns
from emoscope.data.imageset import ImageSet
from emoscope.data.labels import PANIC_CLASSES, panic_targets
from emoscope.errors import DataError
from emoscope.evaluation.metrics import average_precision, binary_roc_auc
from emoscope.training.config import TrainConfig

PANIC_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "mae")


def choose_threshold(y_true: np.ndarray, scores: np.ndarray, target_recall: float) -> float:
    """The highest threshold that still flags ``target_recall`` of the panic faces (score >= threshold)."""
    positives = np.sort(np.asarray(scores)[np.asarray(y_true) == 1])[::-1]
    if len(positives) == 0:
        raise ValueError("no panic examples to choose a threshold on")
    needed = max(1, math.ceil(target_recall * len(positives)))
    return float(positives[needed - 1])


def binary_metrics_at(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    y_true = np.asarray(y_true).astype(bool)
    flagged = np.asarray(scores) >= threshold
    tp = int((flagged & y_true).sum())
    precision = tp / flagged.sum() if flagged.any() else 0.0
    recall = tp / y_true.sum() if y_true.any() else 0.0
    return {
        "threshold": threshold, "n": int(len(y_true)), "panic": int(y_true.sum()),
        "accuracy": float((flagged == y_true).mean()),
        "precision": float(precision), "recall": float(recall),
        "f1": float(2 * precision * recall / (precision + recall)) if precision + recall else 0.0,
        "roc_auc": binary_roc_auc(y_true, scores), "pr_auc": average_precision(y_true, scores),
        # for a binary label this is 1 - accuracy; kept because the study reports MAE
        "mae": float(np.abs(flagged.astype(int) - y_true.astype(int)).mean()),
    }


def panic_scores_of(predictor, images: ImageSet, panic_classes=PANIC_CLASSES) -> tuple[np.ndarray, np.ndarray]:
    """(binary panic labels, panic scores) of ``images`` (expression-labelled) under ``predictor``."""
    y = panic_targets(images.labels, images.label_set, panic_classes)
    columns = panic_columns(predictor.classes, panic_classes)
    return y, predictor.predict_proba(images.images)[:, columns].sum(axis=1)


def operating_point(predictor, val: ImageSet, test: ImageSet, target_recall: float = 0.9,
                    panic_classes=PANIC_CLASSES) -> dict:
    """Threshold chosen on ``val`` for ``target_recall``; metrics on ``val`` and ``test`` at it."""
    y_val, s_val = panic_scores_of(predictor, val, panic_classes)
    threshold = choose_threshold(y_val, s_val, target_recall)
    y_test, s_test = panic_scores_of(predictor, test, panic_classes)
    binary = list(predictor.classes) == ["calm", "panic"]
    return {
        "model": predictor.spec.name, "route": "binary panic model" if binary else "expression model",
        "panic_classes": list(panic_classes), "target_recall": target_recall, "threshold": threshold,
        "val": binary_metrics_at(y_val, s_val, threshold), "test": binary_metrics_at(y_test, s_test, threshold),
    }


def operating_point_markdown(points: list[dict]) -> str:
    lines = ["| model | route | threshold | val recall | val precision | test recall | test precision | test F1 "
             "| test ROC-AUC | test PR-AUC |", "|---" * 10 + "|"]
    for p in points:
        v, t = p["val"], p["test"]
        lines.append(f"| {p['model']} | {p['route']} | {p['threshold']:.4f} | {v['recall']:.4f} | {v['precision']:.4f} "
                     f"| {t['recall']:.4f} | {t['precision']:.4f} | {t['f1']:.4f} | {t['roc_auc']:.4f} "
                     f"| {t['pr_auc']:.4f} |")
    return "\n".join(lines) + "\n"


def summary_markdown(cv_dirs: list[Path], extra_points: list[Path] = ()) -> str:
    """The study's results from the files `emoscope panic cv` and `emoscope panic threshold` wrote:
    mean ± std over the folds per model, the operating points, then every fold."""
    rows, points, per_fold = [], [], []
    for run_dir in map(Path, cv_dirs):
        try:
            report = json.loads((run_dir / "folds.json").read_text())
            config = json.loads((run_dir / "fold1" / "config.json").read_text())
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"{run_dir}: not a finished `emoscope panic cv` run ({type(exc).__name__})") from None
        summary = report["summary"]
        rows.append(f"| {config['model']} | {report['n']} | {config['epochs']} | {report['k']} | "
                    + " | ".join(f"{summary[m]['mean']:.3f} ± {summary[m]['std']:.3f}" for m in PANIC_METRICS) + " |")
        if (run_dir / "operating_point.json").is_file():
            points.append(json.loads((run_dir / "operating_point.json").read_text()))
        per_fold.append(f"### {config['model']}\n\n" + (run_dir / "folds.md").read_text())
    points += [json.loads(Path(p).read_text()) for p in extra_points]
    text = ("# Panic study results\n\nWritten by `emoscope panic summary` from the runs' files (`make reproduce-panic` "
            "redoes every step); definitions and reading guide: [panic.md](panic.md).\n\n"
            "## k-fold cross-validation (mean ± std over folds; threshold 0.5 of the selected epoch)\n\n"
            "| model | pool images | epochs/fold | folds | " + " | ".join(PANIC_METRICS) + " |\n"
            + "|---" * (4 + len(PANIC_METRICS)) + "|\n" + "\n".join(rows) + "\n"
            "\nmae is the mean |predicted − true| label, which for a binary label is 1 − accuracy; it is listed "
            "because the study reports it.\n")
    if points:
        text += ("\n## Operating points (threshold chosen on PublicTest for the target recall, then PrivateTest)\n\n"
                 + operating_point_markdown(points))
    return text + "\n## Every fold\n\n" + "\n".join(per_fold)


def panic_config(**options) -> TrainConfig:
    """The training config of the study's binary panic models; ``options`` are TrainConfig fields
    (model, panic_classes, epochs, limit, ...). A bad value raises pydantic's ValidationError."""
    return TrainConfig.model_validate({"name": f"panic-{options['model']}", "label_set": "panic", "class_weights": True,
                                       "monitor": "macro_f1", **options})


def fer2013_operating_point(predictor, target_recall: float = 0.9, panic_classes=PANIC_CLASSES) -> dict:
    """:func:`operating_point` on the study's splits: threshold on PublicTest, result on PrivateTest."""
    from emoscope.data import load_dataset

    return operating_point(predictor, load_dataset("fer2013", split="val"), load_dataset("fer2013", split="test"),
                           target_recall, panic_classes)


def run_panic_cv(cfg: TrainConfig, folds: int, target_recall: float, command: str = "", progress=None) -> dict:
    """k-fold of ``cfg`` over its training pool (``folds.md``/``.csv``/``.json`` in its run folder), then
    a final model on the whole pool whose operating point is written to ``operating_point.json`` and returned."""
    from emoscope.models.registry import get_entry
    from emoscope.runtime.predictor import load_predictor
    from emoscope.training.datamodule import DataModule
    from emoscope.training.kfold import run_kfold
    from emoscope.training.trainer import Trainer

    get_entry(cfg.model)  # an unknown architecture fails now, not after the data has loaded
    data = DataModule(cfg)
    run_kfold(cfg, data.train(), folds, command=command, progress=progress, metrics=PANIC_METRICS)
    final_cfg = cfg.model_copy(update={"name": f"{cfg.name}/final"})
    result = Trainer(final_cfg, data.train(), data.val(), command=command, progress=progress).fit()
    predictor = load_predictor(result.best_bundle, backend="torch")
    point = fer2013_operating_point(predictor, target_recall, cfg.panic_classes)
    (cfg.run_dir / "operating_point.json").write_text(json.dumps(point, indent=1))
    return point
