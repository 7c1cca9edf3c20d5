import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score, roc_auc_score

from emoscope.cues.panic import panic_columns
from emoscope.jobs.panic import binary_metrics_at, choose_threshold, operating_point
from emoscope.data.imageset import ImageSet
from emoscope.data.labels import FER7
from emoscope.errors import EmoscopeError
from emoscope.runtime.spec import ModelSpec
from helpers import run_emoscope


def test_threshold_reaches_the_target_recall_and_no_lower_threshold_is_needed():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    scores = np.clip(y * 0.3 + rng.random(500) * 0.7, 0, 1)
    for target in (0.5, 0.9, 0.99, 1.0):
        t = choose_threshold(y, scores, target)
        assert recall_score(y, scores >= t) >= target
        # the next higher panic score would miss the target: t is the highest that works
        higher = scores[(y == 1) & (scores > t)]
        if len(higher):
            assert recall_score(y, scores >= higher.min()) < target
    with pytest.raises(ValueError):
        choose_threshold(np.zeros(3), np.ones(3), 0.9)


def test_binary_metrics_match_sklearn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    scores = rng.random(300) * 0.6 + y * 0.3
    m = binary_metrics_at(y, scores, 0.45)
    pred = scores >= 0.45
    assert m["precision"] == pytest.approx(precision_score(y, pred))
    assert m["recall"] == pytest.approx(recall_score(y, pred))
    assert m["f1"] == pytest.approx(f1_score(y, pred))
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, scores))
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, scores))
    assert m["mae"] == pytest.approx(np.mean(pred != y))


def test_panic_columns():
    assert panic_columns(["calm", "panic"]) == [1]
    assert panic_columns(list(FER7.classes)) == [2]
    assert panic_columns(list(FER7.classes), ["Fearful", "surprised"]) == [2, 5]
    with pytest.raises(EmoscopeError):
        panic_columns(["happy", "sad"])


def test_operating_point_of_an_expression_model():
    class FearByBrightness:
        spec = ModelSpec(name="m", architecture="none", label_set="fer2013", classes=list(FER7.classes))
        classes = list(FER7.classes)

        def predict_proba(self, images):
            fear = np.array([img.mean() / 255 for img in images])
            probs = np.tile(((1 - fear) / 6)[:, None], (1, 7))
            probs[:, 2] = fear
            return probs

    rng = np.random.default_rng(2)
    labels = rng.integers(0, 7, 400)
    images = (rng.random((400, 8, 8)) * 120 + (labels == 2)[:, None, None] * 120).astype(np.uint8)
    data = ImageSet(images=images, labels=labels, label_set=FER7, source="synthetic")
    point = operating_point(FearByBrightness(), data, data, target_recall=0.9)
    assert point["route"] == "expression model"
    assert point["val"]["recall"] >= 0.9 and point["test"] == point["val"]


@pytest.mark.data
def test_panic_cv_end_to_end_then_summary(data_root, tmp_path):
    """The protocol at toy scale on real FER2013: folds, final model, operating point, summary page."""
    import json

    def emoscope(*args):
        run = run_emoscope("panic", *args)
        assert run.returncode == 0, run.stderr[-2000:]
        return run

    emoscope("cv", "--model", "fer_fast_net", "--folds", "2", "--limit", "200", "--epochs", "1", "--val-limit", "100",
             "--threads", "1", "--out-dir", tmp_path)
    run_dir = tmp_path / "panic-fer_fast_net"
    folds = json.loads((run_dir / "folds.json").read_text())
    assert folds["k"] == 2 and folds["n"] == 200 and len(folds["folds"]) == 2
    assert all(0 <= fold["recall"] <= 1 and 0 <= fold["roc_auc"] <= 1 for fold in folds["folds"])
    point = json.loads((run_dir / "operating_point.json").read_text())
    assert point["route"] == "binary panic model"
    assert point["val"]["n"] == point["test"]["n"] == 3589 and point["val"]["recall"] >= 0.9

    page = tmp_path / "panic.md"
    emoscope("summary", run_dir, "--out", page)
    text = page.read_text()
    assert "| fer_fast_net | 200 | 1 | 2 |" in text and "binary panic model" in text and "### fer_fast_net" in text


def test_summary_of_an_unfinished_run_is_a_user_error(tmp_path):
    from emoscope.jobs.panic import summary_markdown

    (tmp_path / "run").mkdir()
    with pytest.raises(EmoscopeError, match="not a finished"):
        summary_markdown([tmp_path / "run"])
