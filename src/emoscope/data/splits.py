"""Stratified index splits: k folds, a train/validation split, and fixed-size subsets.

All functions take integer class labels and return sorted int64 row indices, and are
deterministic for a given seed.
"""

from __future__ import annotations


import numpy as np

from emoscope.data.imageset import ImageSet
from emoscope.errors import DataError


def _as_labels(labels) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) == 0:
        raise DataError(f"need a non-empty 1-D array of labels, got shape {labels.shape}")
    return labels


def stratified_kfold(labels, k: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` disjoint validation folds covering every row, each with every class in proportion.

    Returns ``[(train_idx, val_idx), ...]``; uses scikit-learn's shuffled StratifiedKFold.
    """
    from sklearn.model_selection import StratifiedKFold

    labels = _as_labels(labels)
    if k < 2:
        raise DataError(f"k-fold needs k >= 2, got {k}")
    classes, counts = np.unique(labels, return_counts=True)
    if k > counts.min():
        rarest = int(np.argmin(counts))
        raise DataError(
            f"{k} folds need at least {k} images of every class; class {classes[rarest]} has {counts[rarest]}"
        )
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [
        (np.sort(train).astype(np.int64), np.sort(val).astype(np.int64))
        for train, val in splitter.split(np.zeros(len(labels)), labels)
    ]


def stratified_sample(labels, n: int, seed: int = 0) -> np.ndarray:
    """``n`` distinct row indices drawn at random, each class represented in proportion to its size.

    Class quotas are ``n * share`` rounded by largest remainder, so they add up to exactly ``n``.
    """
    labels = _as_labels(labels)
    if not 0 <= n <= len(labels):
        raise DataError(f"cannot draw {n} of {len(labels)} rows")
    _, class_of_row, counts = np.unique(labels, return_inverse=True, return_counts=True)
    quotas = counts * n / len(labels)
    take = np.floor(quotas).astype(np.int64)
    by_remainder = np.argsort(-(quotas - take), kind="stable")
    take[by_remainder[: n - take.sum()]] += 1
    rng = np.random.default_rng(seed)
    chosen = [
        rng.choice(np.flatnonzero(class_of_row == cls), size=int(size), replace=False)
        for cls, size in enumerate(take)
    ]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def stratified_split(labels, val_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(train_idx, val_idx)`` with about ``val_fraction`` of every class in validation."""
    labels = _as_labels(labels)
    if not 0 < val_fraction < 1:
        raise DataError(f"val_fraction must be between 0 and 1 (exclusive), got {val_fraction}")
    n_val = round(val_fraction * len(labels))
    if not 0 < n_val < len(labels):
        raise DataError(f"val_fraction {val_fraction} of {len(labels)} rows leaves one side empty")
    val = stratified_sample(labels, n_val, seed)
    return np.setdiff1d(np.arange(len(labels)), val).astype(np.int64), val


def limit_per_split(images: ImageSet, n: int, seed: int = 0) -> ImageSet:
    """A stratified random subset of ``n`` rows (all of them when ``n >= len(images)``), in original order."""
    if n < 1:
        raise DataError(f"subset size must be at least 1, got {n}")
    if n >= len(images):
        return images
    return images.subset(stratified_sample(images.labels, n, seed))
