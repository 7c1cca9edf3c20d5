import numpy as np
import pytest

from emoscope.video.tracking import EmaSmoother, FaceTracker, iou_matrix


def box(x, y, size=100):
    return [x, y, x + size, y + size]


def test_iou_matrix_known_values():
    a = np.array([box(0, 0)], dtype=np.float32)
    b = np.array([box(0, 0), box(50, 0), box(500, 500)], dtype=np.float32)
    np.testing.assert_allclose(iou_matrix(a, b)[0], [1.0, 50 * 100 / (2 * 10000 - 5000), 0.0], rtol=1e-6)
    assert iou_matrix(a, np.zeros((0, 4))).shape == (1, 0)


def test_ids_stay_with_moving_faces_and_swap_order():
    tracker = FaceTracker()
    first = tracker.update(np.array([box(0, 0), box(300, 0)]))
    assert list(first) == [1, 2]
    # both faces move a little and come back in the opposite order
    second = tracker.update(np.array([box(310, 5), box(8, 4)]))
    assert list(second) == [2, 1]


def test_fast_move_uses_centre_fallback_and_new_face_gets_new_id():
    tracker = FaceTracker(iou_threshold=0.3, max_centre_shift=0.6)
    tracker.update(np.array([box(0, 0)]))
    ids = tracker.update(np.array([box(55, 0), box(600, 600)]))  # IoU 0.29 < 0.3, centre shift 0.55 box
    assert list(ids) == [1, 2]


def test_track_dropped_after_max_missed_and_reappearing_face_gets_new_id():
    tracker = FaceTracker(max_missed=2)
    tracker.update(np.array([box(0, 0)]))
    for _ in range(2):
        assert len(tracker.update(np.zeros((0, 4)))) == 0
    assert tracker.dropped == []
    tracker.update(np.zeros((0, 4)))
    assert tracker.dropped == [1]
    assert list(tracker.update(np.array([box(0, 0)]))) == [2]


def test_face_coming_back_within_max_missed_keeps_its_id():
    tracker = FaceTracker(max_missed=5)
    tracker.update(np.array([box(0, 0)]))
    tracker.update(np.zeros((0, 4)))
    assert list(tracker.update(np.array([box(3, 3)]))) == [1]


def test_ema_smoother():
    smoother = EmaSmoother(alpha=0.5)
    np.testing.assert_allclose(smoother.update(1, np.array([1.0, 0.0])), [1.0, 0.0])
    np.testing.assert_allclose(smoother.update(1, np.array([0.0, 1.0])), [0.5, 0.5])
    np.testing.assert_allclose(smoother.update(2, np.array([0.0, 1.0])), [0.0, 1.0])
    smoother.forget([1])
    np.testing.assert_allclose(smoother.update(1, np.array([0.0, 1.0])), [0.0, 1.0])
    with pytest.raises(ValueError):
        EmaSmoother(alpha=0)
