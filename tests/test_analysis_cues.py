"""Blink, face-touch and gaze cues on constructed landmark streams with known answers."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from emoscope.cues.blinks import LEFT_EYE, RIGHT_EYE, BlinkDetector, eye_aspect_ratio, percentile_of_sorted
from emoscope.cues.gaze import EYES, gaze_direction, iris_position
from emoscope.cues.debounce import Debouncer
from emoscope.cues.touch import hand_touches_face


def mesh_with_eyes(openness: float, iris: float = 0.5) -> np.ndarray:
    """A 478-point mesh whose eyes are 30 px wide and ``openness`` * 30 px high."""
    mesh = np.zeros((478, 2), dtype=np.float32)
    for (p1, p2, p3, p4, p5, p6), x0 in ((RIGHT_EYE, 100.0), (LEFT_EYE, 200.0)):
        h = openness * 30
        mesh[p1], mesh[p4] = (x0, 50), (x0 + 30, 50)
        mesh[p2], mesh[p3] = (x0 + 10, 50 - h / 2), (x0 + 20, 50 - h / 2)
        mesh[p6], mesh[p5] = (x0 + 10, 50 + h / 2), (x0 + 20, 50 + h / 2)
    for a, b, centre in EYES:
        left, right = sorted((mesh[a, 0], mesh[b, 0]))
        mesh[centre] = (left + iris * (right - left), 50)
    return mesh


def test_eye_aspect_ratio_is_height_over_width():
    assert eye_aspect_ratio(mesh_with_eyes(0.3)) == pytest.approx(0.3, rel=1e-5)
    assert eye_aspect_ratio(mesh_with_eyes(0.05)) == pytest.approx(0.05, rel=1e-4)


def run_blinks(ears, fps=30.0, **kwargs):
    detector = BlinkDetector(**kwargs)
    return [i for i, ear in enumerate(ears) if detector.update(ear, i / fps)], detector


def test_counts_each_closure_of_two_or_more_frames_once():
    ears = [0.30] * 30 + [0.08] * 3 + [0.30] * 20 + [0.10] * 2 + [0.31] * 20
    blinks, _ = run_blinks(ears)
    assert blinks == [33, 55]  # counted when the eyes open again


def test_single_frame_dip_is_not_a_blink_and_long_closure_is_not_either():
    ears = [0.30] * 30 + [0.08] + [0.30] * 20 + [0.05] * 60 + [0.30] * 10
    blinks, _ = run_blinks(ears)
    assert blinks == []


def test_threshold_adapts_to_a_person_with_narrow_eyes():
    # open 0.18 (narrow eyes), closed 0.09: a fixed 0.2 threshold would see the eyes always closed
    ears = [0.18] * 40 + [0.09] * 3 + [0.18] * 30 + [0.09] * 3 + [0.18] * 10
    blinks, detector = run_blinks(ears)
    assert len(blinks) == 2
    assert detector.threshold == pytest.approx(0.75 * 0.18, rel=0.05)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(0, 1) | st.sampled_from([0.25, 0.3, math.nan]), min_size=1, max_size=120),
       st.floats(0.5, 60), st.sampled_from([50, 80, 95]))
def test_the_open_level_is_numpys_percentile_of_the_window_to_the_last_bit(ears, fps, q):
    """The detector keeps its window sorted instead of calling np.percentile every frame (issue 39)."""
    detector = BlinkDetector(warmup_frames=1)
    for i, ear in enumerate(ears):
        detector.update(ear, i / fps)
        window = [value for time, value in detector._recent]
        expected = float(np.percentile(window, 80))
        assert detector.open_level == expected or (math.isnan(expected) and math.isnan(detector.open_level))
    finite = sorted(e for e in ears if not math.isnan(e))
    if finite:
        assert percentile_of_sorted(finite, q) == float(np.percentile(finite, q))


def test_touch_requires_enough_landmarks_inside_the_box():
    box = np.array([100, 100, 200, 200], dtype=np.float32)
    hand = np.full((1, 21, 2), 400, dtype=np.float32)
    assert not hand_touches_face(hand, box)
    hand[0, :2] = 150  # two fingertips: not enough
    assert not hand_touches_face(hand, box)
    hand[0, :3] = 150
    assert hand_touches_face(hand, box)
    assert not hand_touches_face(np.zeros((0, 21, 2)), box)


def test_touch_episodes_need_entry_frames_and_merge_within_cooldown():
    detector = Debouncer(enter_frames=3, exit_frames=5)
    pattern = [1, 1, 0] + [0] * 10 + [1] * 6 + [0, 0] + [1] * 3 + [0] * 10 + [1] * 4 + [0] * 3
    starts = [detector.update(bool(v), i * 0.1) for i, v in enumerate(pattern)]
    confirmed = [s for s in starts if s is not None]
    assert len(confirmed) == 2  # the 2-frame touch is ignored; the gap of 2 is within the cooldown
    assert confirmed[0] == pytest.approx(1.3)
    first_start, first_end = detector.episodes[0]
    assert first_start == pytest.approx(1.3) and first_end == pytest.approx(2.3)


@pytest.mark.parametrize("iris, direction", [(0.5, "centre"), (0.2, "left"), (0.85, "right"), (0.58, "centre")])
def test_gaze_direction_from_iris_position(iris, direction):
    mesh = mesh_with_eyes(0.3, iris=iris)
    assert iris_position(mesh) == pytest.approx(iris, abs=1e-5)
    assert gaze_direction(mesh) == direction
