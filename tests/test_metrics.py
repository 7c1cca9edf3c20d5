import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from emoscope.evaluation.metrics import average_precision, binary_roc_auc, classification_metrics

CLASSES = ["a", "b", "c", "d"]


def _random_case(seed: int, n: int = 300, k: int = 4):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + np.eye(k)[y] * rng.uniform(0, 2)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return y, probs


@pytest.mark.parametrize("seed", range(5))
def test_matches_sklearn(seed):
    y, probs = _random_case(seed)
    pred = probs.argmax(1)
    m = classification_metrics(y, probs, CLASSES)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro", labels=range(4), zero_division=0))
    p, r, f, s = skm.precision_recall_fscore_support(y, pred, labels=range(4), zero_division=0)
    for i, name in enumerate(CLASSES):
        row = m["per_class"][name]
        assert (row["precision"], row["recall"], row["f1"], row["support"]) == pytest.approx((p[i], r[i], f[i], s[i]))
    assert m["roc_auc_macro_ovr"] == pytest.approx(skm.roc_auc_score(y, probs, multi_class="ovr", average="macro"))
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(y, pred))
    assert m["confusion_matrix"] == skm.confusion_matrix(y, pred, labels=range(4)).tolist()


def test_binary_adds_roc_and_pr_auc():
    y, probs = _random_case(7, k=2)
    m = classification_metrics(y, probs, ["calm", "panic"])
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, probs[:, 1]))
    assert m["pr_auc"] == pytest.approx(skm.average_precision_score(y, probs[:, 1]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 5)), min_size=2, max_size=40))
def test_auc_with_ties_matches_sklearn(pairs):
    y = np.array([p[0] for p in pairs])
    scores = np.array([p[1] for p in pairs], dtype=float)
    if y.all() or not y.any():
        assert np.isnan(binary_roc_auc(y, scores))
        return
    assert binary_roc_auc(y, scores) == pytest.approx(skm.roc_auc_score(y, scores))
    assert average_precision(y, scores) == pytest.approx(skm.average_precision_score(y, scores))


def test_missing_class_is_zero_not_nan():
    y = np.array([0, 0, 1, 1])
    probs = np.eye(3)[[0, 0, 1, 0]]
    m = classification_metrics(y, probs, ["x", "y", "z"])
    assert m["per_class"]["z"]["f1"] == 0.0 and m["per_class"]["z"]["support"] == 0
