"""The new cues on constructed inputs with known answers: blink kinematics, hand movement, head pose
(angles of a projected 3-D face, turning points, nods), facial movement measures; and the event
scoring of `validate-cues --events`."""

import numpy as np
import pytest

from emoscope.benchmarks.validate_cues import match_spans, score_blink_kinematics
from emoscope.cues.base import FaceObservation
from emoscope.cues.blink_kinematics import BlinkKinematics
from emoscope.cues.face_movement import EYE_CORNERS, FaceMovement, face_measures
from emoscope.cues.hand_movement import HandMovement, hand_speed, hands_near
from emoscope.cues.head_pose import _MESH_INDEX, _MODEL, HeadPose, TurningPoints, head_pose
from emoscope.video.pipeline import AnalysisOptions
from test_analysis_cues import mesh_with_eyes

OPTIONS = AnalysisOptions()
BOX = np.array([100.0, 100.0, 200.0, 220.0])  # a 100 px wide face
NO_HANDS = np.zeros((0, 21, 2), np.float32)


def observe(time, mesh=None, hands=NO_HANDS, smoothed=(1.0, 0.0), box=BOX):
    return FaceObservation(1, time, box, np.array(smoothed, np.float32), mesh, hands)


# -- blink kinematics -------------------------------------------------------------------------------
def run_kinematics(openness, fps=30.0):
    cue = BlinkKinematics(OPTIONS, ["neutral", "happy"])
    return [cue.update(observe(i / fps, mesh_with_eyes(o))) for i, o in enumerate(openness)]


def test_a_blink_has_its_duration_shut_time_and_speeds():
    # open (0.3), then 0.2 (closing), 0.05, 0.05 (shut), 0.2 (opening), open again
    values = run_kinematics([0.3] * 30 + [0.2, 0.05, 0.05, 0.2] + [0.3] * 10)
    (record,) = [v["closure_record"] for v in values if "closure_record" in v]
    assert record.start == pytest.approx(30 / 30)
    assert record.duration == pytest.approx(4 / 30)  # four frames below 0.75 x the open level
    assert record.closed == pytest.approx(2 / 30) and record.closing == pytest.approx(1 / 30)
    assert record.opening == pytest.approx(1 / 30)
    # steepest fall: 0.2 -> 0.05 in one frame = 0.5 open levels in 1/30 s; steepest rise 0.2 -> 0.3 ... 0.05 -> 0.2
    assert record.closing_speed == pytest.approx(0.15 / 0.3 * 30, rel=1e-3)
    assert record.opening_speed == pytest.approx(0.15 / 0.3 * 30, rel=1e-3)
    assert values[34]["blink_duration"] == pytest.approx(4 / 30)
    assert [bool(v.get("lids_shut")) for v in values[30:35]] == [False, True, True, False, False]


def test_a_closure_over_half_a_second_is_a_long_closure_not_a_blink():
    values = run_kinematics([0.3] * 30 + [0.05] * 24 + [0.3] * 10)  # 0.8 s shut
    (record,) = [v["closure_record"] for v in values if "closure_record" in v]
    assert record.duration == pytest.approx(0.8)
    assert not any("blink_duration" in v for v in values)
    assert not values[30 + 14].get("long_closure") and values[30 + 16]["long_closure"]  # past 0.5 s
    cue = BlinkKinematics(OPTIONS, ["neutral"])
    summary = cue.accumulator()
    for i, v in enumerate(values):
        summary.add(i / 30, v)
    section = summary.section(1 / 30)
    assert section.blinks == 0 and section.mean_duration is None
    assert section.long_closures == [(1.0, pytest.approx(0.8))]
    assert section.perclos == pytest.approx(24 / (64 - 4))  # past the 5-frame warm-up (the first has a value)


def test_a_shallow_dip_is_no_closure():
    values = run_kinematics([0.3] * 30 + [0.21] * 3 + [0.3] * 10)  # below 0.75 L, never below 0.6 L
    assert not any("closure_record" in v for v in values)


# -- hand movement ------------------------------------------------------------------------------------
def a_hand(x, y):
    return np.stack([np.full(21, x), np.full(21, y)], axis=1).astype(np.float32)


def test_hand_speed_is_in_face_widths_per_second():
    before, after = a_hand(150, 300)[None], a_hand(170, 300)[None]
    assert hand_speed(before, after, 0.1, 100.0) == pytest.approx(2.0)  # 20 px in 0.1 s, 100 px face
    assert hand_speed(before, after, 0.1, 200.0) == pytest.approx(1.0)  # the same move, face twice as close
    assert hand_speed(before, a_hand(400, 300)[None], 0.1, 100.0) is None  # too far to be the same hand


def test_hands_far_from_the_face_are_someone_elses():
    hands = np.stack([a_hand(150, 300), a_hand(900, 300)])
    assert len(hands_near(hands, BOX)) == 1


def test_moving_hands_make_a_burst_and_held_samples_are_not_movement():
    cue = HandMovement(OPTIONS, ["neutral"])  # hands_every 4: a new sample every 4th frame
    values, x = [], 150.0
    for i in range(60):
        if i % 4 == 0:
            x += 10.0 if 16 <= i < 40 else 0.1  # 10 px per 4 frames = 0.75 face widths/s at 30 fps
            sample = a_hand(x, 300)[None]
        values.append(cue.update(observe(i / 30, hands=sample)))
    assert values[8]["hand_speed"] == pytest.approx(0.1 / 100 / (4 / 30), rel=1e-3)
    assert not values[8]["hands_moving"] and values[20]["hands_moving"]
    assert not values[15]["hand_burst"] and values[23]["hand_burst"] and not values[59]["hand_burst"]
    summary = cue.accumulator()
    for i, v in enumerate(values):
        summary.add(i / 30, v)
    section = summary.section(1 / 30)
    assert section.bursts == 1 and section.moving_share == pytest.approx(24 / 60)
    assert section.hands_visible_share == 1.0


# -- head pose ----------------------------------------------------------------------------------------
def rotation(yaw, pitch, roll):
    """R = Rz(roll) Ry(-yaw) Rx(-pitch), camera axes x right, y down, z away."""
    a, b, c = np.radians([-pitch, -yaw, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def projected_face(yaw, pitch, roll, scale=0.3, at=(320.0, 200.0)):
    mesh = np.zeros((478, 2))
    mesh[_MESH_INDEX] = (_MODEL @ rotation(yaw, pitch, roll).T)[:, :2] * scale + np.array(at)
    return mesh


@pytest.mark.parametrize("angles", [(0, 0, 0), (20, 0, 0), (0, 15, 0), (0, 0, -12), (25, -10, 5), (-40, 20, -15)])
def test_head_pose_recovers_the_angles_of_a_projected_face(angles):
    assert head_pose(projected_face(*angles)) == pytest.approx(angles, abs=1.5)


def test_yaw_is_positive_when_the_nose_points_to_the_image_right():
    mesh = projected_face(20, 0, 0)
    assert mesh[1, 0] > mesh[[33, 263], 0].mean()  # the nose tip right of the eyes' middle
    assert head_pose(mesh)[0] > 0


def test_head_pose_does_not_depend_on_face_size_or_place():
    near = head_pose(projected_face(15, -8, 4, scale=0.6, at=(100.0, 80.0)))
    far = head_pose(projected_face(15, -8, 4, scale=0.15, at=(600.0, 400.0)))
    assert near == pytest.approx(far, abs=0.5)


def test_turning_points_ignore_jitter_and_confirm_swings():
    points = TurningPoints(swing=5)
    series = [0, 1, -1, 0.5, 4, 8, 10, 9, 6, 3, 0, -2, 1, 4]
    confirmed = [c for t, a in enumerate(series) if (c := points.update(float(t), float(a)))]
    # the minimum at t=2 (-1) is confirmed at t=5 (rose by 9 >= 5)... jitter of 2 degrees is not a swing
    assert [point for _, point in confirmed] == [(2.0, -1.0), (6.0, 10.0), (11.0, -2.0)]


def run_head(pitches, yaws=None, fps=30.0):
    cue = HeadPose(OPTIONS, ["neutral"])
    yaws = yaws or [0.0] * len(pitches)
    return [cue.update(observe(i / fps, projected_face(y, p, 0))) for i, (p, y) in enumerate(zip(pitches, yaws))]


def test_a_quick_down_and_up_is_a_nod_and_a_slow_one_is_not():
    dip = list(np.concatenate([np.zeros(10), np.linspace(0, -12, 8), np.linspace(-12, 0, 8), np.zeros(10)]))
    values = run_head(dip)
    assert sum(v["nod"] for v in values) == 1 and not any(v["shake"] for v in values)
    slow = list(np.concatenate([np.zeros(10), np.linspace(0, -12, 40), np.linspace(-12, 0, 40), np.zeros(10)]))
    assert not any(v["nod"] for v in run_head(slow))


def test_side_to_side_is_a_shake_and_far_to_the_side_is_looking_away():
    shake = list(np.concatenate([np.zeros(5), np.linspace(0, 15, 6), np.linspace(15, -15, 10),
                                 np.linspace(-15, 0, 6), np.zeros(10)]))
    values = run_head([0.0] * len(shake), shake)
    assert sum(v["shake"] for v in values) == 1 and not any(v["nod"] for v in values)
    away = run_head([0.0] * 20, [0.0] * 5 + [40.0] * 15)
    assert not away[6]["looking_away"] and away[8]["looking_away"]  # an episode starts after 3 frames


# -- facial movement ---------------------------------------------------------------------------------
def test_face_measures_are_in_eye_corner_distances_and_relative_to_neutral():
    mesh = np.zeros((478, 2))
    mesh[EYE_CORNERS[0]], mesh[EYE_CORNERS[1]] = (100, 100), (200, 100)
    mesh[13], mesh[14] = (150, 200), (150, 210)  # lips 10 px apart
    mesh[61], mesh[291] = (120, 205), (180, 205)
    assert face_measures(mesh)["mouth_open"] == pytest.approx(0.1)
    assert face_measures(mesh * 2)["mouth_open"] == pytest.approx(0.1)  # twice as close: the same
    cue = FaceMovement(OPTIONS, ["neutral", "happy"])
    summary = cue.accumulator()
    for i in range(10):  # neutral with the mouth closed to 0.1, then happy with it open to 0.3
        opened = mesh.copy()
        if i >= 5:
            opened[14] = (150, 230)
        summary.add(i / 30, cue.update(observe(i / 30, opened, smoothed=(0, 1) if i >= 5 else (1, 0))))
    section = summary.section(1 / 30)
    assert section.baseline_from == "neutral frames" and section.baseline_frames == 5
    mouth = section.measures["mouth_open"]
    assert mouth.baseline == pytest.approx(0.1) and mouth.max_change == pytest.approx(0.2)
    assert mouth.mean_change == pytest.approx(0.1)


# -- event scoring ------------------------------------------------------------------------------------
def test_events_match_one_to_one_by_overlap():
    scores = match_spans([(10, 12), (11, 13), (50, 52), (90, 91)], [(9, 12), (30, 33)], ignore=[(88, 95)])
    # (10, 12) matches the first label; (11, 13) would match it again: a false positive, as is (50, 52);
    # (90, 91) lies in an ignored span
    assert (scores["true_positives"], scores["false_positives"], scores["false_negatives"]) == (1, 2, 1)
    assert scores["precision"] == pytest.approx(1 / 3) and scores["recall"] == pytest.approx(0.5)
    assert match_spans([], [])["precision"] is None  # nothing to score is not a perfect score


def test_blink_duration_error_is_in_frames():
    import pandas as pd

    labels = pd.DataFrame({"event": ["blink"], "start_frame": [10], "end_frame": [13], "closed_start": [11],
                           "closed_end": [12]})
    shut = np.zeros(30, dtype=bool)
    shut[11:14] = True
    scores = score_blink_kinematics([(11, 13)], shut, labels)
    assert scores["duration_error_frames"] == [-1] and scores["start_error_frames"] == [1]
    assert scores["shut_error_frames"] == [1]


def test_the_new_cues_follow_the_switches_of_the_cues_whose_perception_they_use():
    from emoscope.cues import create_cues

    def enabled(**switches):
        return {cue.name for cue in create_cues(AnalysisOptions(**switches), ["neutral"]) if cue.enabled}

    # the emotion-only loop runs neither the face mesh nor the hand tracker
    assert enabled(blinks=False, gaze=False, touches=False) == set()
    assert enabled(blinks=False, touches=False) == {"gaze", "head_pose", "face_movement"}
    assert "blink_kinematics" not in enabled(blinks=False) and "hand_movement" not in enabled(touches=False)
