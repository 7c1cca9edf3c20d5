"""Classification metrics in plain numpy (checked against scikit-learn in the tests)."""

from __future__ import annotations

import math

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts ``C[i, j]`` of true class ``i`` predicted as ``j``."""
    index = np.asarray(y_true, dtype=np.int64) * num_classes + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    # sklearn's zero_division=0 convention: an undefined ratio counts as 0.
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den > 0)


def binary_roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve via the rank-sum (Mann-Whitney U) identity; ties get average ranks."""
    y_true = np.asarray(y_true).astype(bool)
    n_pos, n_neg = int(y_true.sum()), int((~y_true).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = np.asarray(scores)[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    # Average ranks over runs of equal scores.
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(scores)]])
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + end + 1) / 2
    return float((ranks[y_true].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Area under the precision-recall curve as sklearn's step-wise average precision."""
    y_true = np.asarray(y_true).astype(bool)
    if not y_true.any():
        return float("nan")
    order = np.argsort(-np.asarray(scores), kind="mergesort")
    sorted_scores, hits = np.asarray(scores)[order], y_true[order]
    # Evaluate at each distinct threshold (last index of each run of equal scores).
    last = np.concatenate([np.flatnonzero(np.diff(sorted_scores)), [len(hits) - 1]])
    tp = np.cumsum(hits)[last]
    precision = tp / (last + 1)
    recall = tp / y_true.sum()
    return float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision))


def classification_metrics(y_true: np.ndarray, probs: np.ndarray, classes: list[str]) -> dict:
    """Accuracy, per-class P/R/F1, macro-F1, macro one-vs-rest ROC-AUC, class-index MAE, confusion.

    The MAE of the class index is the panic paper's measure; it is only meaningful for ordered
    or binary labels, but costs nothing to report.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    k = len(classes)
    y_pred = probs.argmax(axis=1)
    cm = confusion_matrix(y_true, y_pred, k)
    tp = np.diag(cm).astype(np.float64)
    precision = _safe_divide(tp, cm.sum(axis=0).astype(np.float64))
    recall = _safe_divide(tp, cm.sum(axis=1).astype(np.float64))
    f1 = _safe_divide(2 * precision * recall, precision + recall)
    present = cm.sum(axis=1) > 0
    aucs = [binary_roc_auc(y_true == c, probs[:, c]) for c in range(k)]
    valid_aucs = [a for a in aucs if not np.isnan(a)]
    result = {
        "n": int(len(y_true)),
        "accuracy": float((y_pred == y_true).mean()) if len(y_true) else float("nan"),
        "macro_f1": float(f1.mean()),
        "macro_recall": float(recall[present].mean()) if present.any() else float("nan"),
        "roc_auc_macro_ovr": float(np.mean(valid_aucs)) if valid_aucs else float("nan"),
        "mae": float(np.abs(y_pred - y_true).mean()) if len(y_true) else float("nan"),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(cm[i].sum()),
                "roc_auc": aucs[i],
            }
            for i, name in enumerate(classes)
        },
        "confusion_matrix": cm.tolist(),
    }
    if k == 2:  # binary tasks (panic): the positive class is index 1
        result["precision"], result["recall"], result["f1"] = float(precision[1]), float(recall[1]), float(f1[1])
        result["roc_auc"] = aucs[1]
        result["pr_auc"] = average_precision(y_true == 1, probs[:, 1])
    return result


def undefined_as_none(value):
    """``value`` with every NaN or infinite float replaced by ``None``, recursively, and numpy scalars as
    Python ones: JSON has no NaN, and an undefined metric (ROC-AUC of a class that never occurs) is
    reported as ``null``, never as a number."""
    if isinstance(value, dict):
        return {key: undefined_as_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [undefined_as_none(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
