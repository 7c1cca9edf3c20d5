"""Distillation targets: the teacher's probabilities blended with the labels, for the right classes only."""

from types import SimpleNamespace

import numpy as np
import pytest

from emoscope.data import FER7, FIVE, ImageSet
from emoscope.errors import EmoscopeError
from emoscope.training.distill import with_teacher_labels


class FixedTeacher:
    def __init__(self, classes, probs):
        self.spec = SimpleNamespace(name="teacher", classes=list(classes))
        self.probs = probs

    def predict_proba(self, images):
        assert len(images) == len(self.probs)
        return self.probs


def _images(n=4, soft=None):
    return ImageSet(np.zeros((n, 8, 8), np.uint8), np.arange(n) % 7, FER7, source="tiny", soft_labels=soft)


def test_teacher_probabilities_are_blended_with_one_hot_labels():
    probs = np.random.default_rng(0).dirichlet(np.ones(7), 4).astype(np.float32)
    out = with_teacher_labels(_images(), FixedTeacher(FER7.classes, probs), weight=0.25)
    expected = 0.25 * probs + 0.75 * np.eye(7, dtype=np.float32)[np.arange(4)]
    np.testing.assert_allclose(out.soft_labels, expected, rtol=1e-6)
    np.testing.assert_allclose(out.soft_labels.sum(1), 1, rtol=1e-5)
    assert "0.25 x teacher soft labels" in out.source


def test_existing_votes_are_kept_as_the_label_part():
    votes = np.full((4, 7), 1 / 7, np.float32)
    probs = np.eye(7, dtype=np.float32)[[1, 2, 3, 4]]
    out = with_teacher_labels(_images(soft=votes), FixedTeacher(FER7.classes, probs), weight=0.5)
    np.testing.assert_allclose(out.soft_labels, 0.5 * probs + 0.5 * votes, rtol=1e-6)


def test_teacher_with_other_classes_or_bad_weight_is_refused():
    with pytest.raises(EmoscopeError, match="predicts"):
        with_teacher_labels(_images(), FixedTeacher(FIVE.classes, np.zeros((4, 5))), weight=0.5)
    with pytest.raises(EmoscopeError, match="weight"):
        with_teacher_labels(_images(), FixedTeacher(FER7.classes, np.zeros((4, 7))), weight=0)
