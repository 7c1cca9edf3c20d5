"""Blinks and face touches against frame labels of a real clip (made by looking at every frame)."""

from pathlib import Path

import pytest

from emoscope.benchmarks.validate_cues import score_blinks, score_touch, validate_clip

LABELS = Path(__file__).parent / "fixtures" / "labels" / "WolfgangLanger_Pexels.json"


def test_blink_scoring_rules():
    labels = {"blinks": [[10, 12], [50, 51]], "ambiguous_closures": [[80, 85]]}
    scores = score_blinks([13, 14, 84, 200], labels)
    # 13 matches the first blink; 14 would match it again, so it is a false positive, as is 200;
    # 84 lies in an ambiguous closure and is not scored
    assert (scores["true_positives"], scores["false_positives"]) == (1, 2)
    assert scores["precision"] == pytest.approx(1 / 3) and scores["recall"] == pytest.approx(0.5)


def test_touch_scoring():
    import numpy as np

    active = np.zeros(20, dtype=bool)
    active[5:10] = True
    scores = score_touch(active, {"face_touch": [[6, 11]]})
    assert scores["precision"] == pytest.approx(4 / 5) and scores["recall"] == pytest.approx(4 / 6)
    assert scores["iou"] == pytest.approx(4 / 7)


@pytest.mark.slow
@pytest.mark.data
def test_cues_on_the_labelled_real_clip(data_root):
    scores = validate_clip(LABELS, data_root)
    # measured: blinks precision 1.0, recall 0.8 (the blink right after a long crying closure is
    # missed); touch frame IoU 0.90. The bounds leave room for small numeric drift, not for regressions.
    assert scores["blinks"]["precision"] >= 0.75
    assert scores["blinks"]["recall"] >= 0.6
    assert scores["touch"]["iou"] >= 0.85
