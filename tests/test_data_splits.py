"""Stratified k-fold, train/validation split and fixed-size subsets."""

from __future__ import annotations

import numpy as np
import pytest

from emoscope.data import (
    FER7,
    ImageSet,
    limit_per_split,
    stratified_kfold,
    stratified_sample,
    stratified_split,
)
from emoscope.errors import DataError

# Imbalanced like FER2013: one rare class.
LABELS = np.repeat(np.arange(7), [40, 5, 30, 60, 35, 25, 45])


def test_kfold_folds_are_stratified_disjoint_and_cover_everything():
    folds = stratified_kfold(LABELS, 5, seed=3)
    assert len(folds) == 5
    validation = np.concatenate([val for _, val in folds])
    assert sorted(validation.tolist()) == list(range(len(LABELS)))
    for train, val in folds:
        assert not set(train.tolist()) & set(val.tolist())
        assert len(train) + len(val) == len(LABELS)
        assert (np.bincount(LABELS[val], minlength=7) > 0).all()
        assert (np.bincount(LABELS[train], minlength=7) > 0).all()
        assert train.dtype == val.dtype == np.int64


def test_kfold_is_deterministic_per_seed():
    same = zip(stratified_kfold(LABELS, 5, seed=1), stratified_kfold(LABELS, 5, seed=1), strict=True)
    assert all(np.array_equal(a[1], b[1]) for a, b in same)
    other = zip(stratified_kfold(LABELS, 5, seed=1), stratified_kfold(LABELS, 5, seed=2), strict=True)
    assert not all(np.array_equal(a[1], b[1]) for a, b in other)


@pytest.mark.parametrize("k", [1, 6])
def test_kfold_rejects_impossible_k(k):
    with pytest.raises(DataError, match="k >= 2|class 1 has 5"):
        stratified_kfold(LABELS, k)


def test_stratified_sample_has_exact_size_and_proportions():
    chosen = stratified_sample(LABELS, 48, seed=0)
    assert len(chosen) == 48 == len(set(chosen.tolist()))
    assert np.all(np.diff(chosen) > 0)
    expected = np.bincount(LABELS) * 48 / len(LABELS)
    assert np.all(np.abs(np.bincount(LABELS[chosen], minlength=7) - expected) < 1)


def test_stratified_split():
    train, val = stratified_split(LABELS, 0.2, seed=0)
    assert len(val) == round(0.2 * len(LABELS))
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(len(LABELS)))
    assert (np.bincount(LABELS[val], minlength=7) >= 1).all()
    np.testing.assert_array_equal(stratified_split(LABELS, 0.2, seed=0)[1], val)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5, 0.0001])
def test_stratified_split_rejects_bad_fractions(fraction):
    with pytest.raises(DataError, match="val_fraction"):
        stratified_split(LABELS, fraction)


def test_limit_per_split_takes_a_stratified_subset_and_slices_row_meta():
    images = ImageSet(
        np.arange(len(LABELS), dtype=np.uint8)[:, None, None] + np.zeros((1, 4, 4), dtype=np.uint8),
        LABELS,
        FER7,
        meta={"rows": np.arange(len(LABELS)) + 1000, "split": "train"},
    )
    subset = limit_per_split(images, 60, seed=7)
    assert len(subset) == 60 and (subset.class_counts() > 0).all()
    np.testing.assert_array_equal(subset.meta["rows"] - 1000, subset.images[:, 0, 0])
    assert subset.meta["split"] == "train"
    np.testing.assert_array_equal(limit_per_split(images, 60, seed=7).meta["rows"], subset.meta["rows"])
    assert limit_per_split(images, 10_000) is images
    with pytest.raises(DataError):
        limit_per_split(images, 0)
