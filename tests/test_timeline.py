import numpy as np
import pytest

from emoscope.report.timeline import (
    Episode, count_transitions, dominant_per_part, episodes, label_runs, mean_per_part,
)

DT = 0.1


def series(*runs):
    """('happy', 10), ('sad', 3) ... -> times and labels at 10 frames per second."""
    labels = [label for label, n in runs for _ in range(n)]
    return np.arange(len(labels)) * DT, labels


def test_label_runs_split_on_label_changes_and_gaps():
    times, labels = series(("happy", 5), ("sad", 3))
    runs = label_runs(times, labels, DT, max_gap=0.5)
    assert [(r.label, round(r.start, 3), round(r.duration, 3)) for r in runs] == [("happy", 0, 0.5), ("sad", 0.5, 0.3)]
    gap_times = np.array([0, 0.1, 0.2, 2.0, 2.1])
    runs = label_runs(gap_times, ["happy"] * 5, DT, max_gap=0.5)
    assert len(runs) == 2


def test_flicker_is_dropped_and_does_not_split_an_episode():
    times, labels = series(("happy", 20), ("sad", 2), ("happy", 20), ("neutral", 10))
    eps = episodes(times, labels, DT, min_duration=0.5)
    assert [e.label for e in eps] == ["happy", "neutral"]
    assert eps[0].start == 0 and eps[0].duration == pytest.approx(4.2)
    assert eps[1].duration == pytest.approx(1.0)


def test_transitions_soft_and_hard():
    eps = [Episode("happy", 0, 1), Episode("sad", 1, 1), Episode("neutral", 2, 1), Episode("angry", 3, 1),
           Episode("fear", 4, 1), Episode("happy", 5, 1)]
    # happy->sad hard, sad->neutral soft, neutral->angry soft, angry->fear soft (both negative), fear->happy hard
    assert count_transitions(eps) == (3, 2)
    assert count_transitions(eps, {"happy": 1, "sad": -1}) == (4, 1)  # unmapped fear counts as neither
    assert count_transitions([]) == (0, 0)


def test_parts_pick_the_highest_mean_probability_and_none_when_unseen():
    classes = ["happy", "sad"]
    times = np.array([0.5, 1.5, 1.6, 3.5])
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]], dtype=np.float32)
    assert dominant_per_part(times, probs, duration=4.0, parts=4, classes=classes) == ["happy", "sad", None, "happy"]
    means = mean_per_part(times, probs, 4.0, 4)
    np.testing.assert_allclose(means[1], [0.3, 0.7])
    # the last instant belongs to the last part, not past it
    assert dominant_per_part(np.array([4.0]), probs[:1], 4.0, 4, classes)[-1] == "happy"
