"""Landmark geometry rules, hand crops, hold smoothing and phrases: no model, no data needed.

Hand poses are built joint by joint from a simple skeleton (palm facing the camera, image y down),
the way the four signs are made, so each rule is checked against the shape it describes and
against the shapes it must reject.
"""

import numpy as np
import pytest

from emoscope.errors import EmoscopeError
from emoscope.gestures.crop import crop_transform, hand_crop, tilt_degrees
from emoscope.gestures.landmarks import hand_shape, ramp
from emoscope.gestures.stream import HoldSmoother
from emoscope.gestures.vocabulary import DEFAULT_PHRASES, NO_HAND, UNKNOWN, phrases_with

MCP = {"index": (-0.30, -0.95), "middle": (0.0, -1.0), "ring": (0.25, -0.95), "pinky": (0.45, -0.85)}
FIRST = {"index": 1, "middle": 5, "ring": 9, "pinky": 13}  # offset of each finger's MCP after the thumb


def finger(name: str, pose: str, spread: float = 0.0) -> np.ndarray:
    """MCP, PIP, DIP, tip of a long finger; ``spread`` tilts an extended finger sideways."""
    x, y = MCP[name]
    mcp = np.array([x, y, 0.0])
    if pose == "extended":
        direction = np.array([np.sin(spread), -np.cos(spread), 0.0])
        return np.stack([mcp + direction * d for d in (0.0, 0.45, 0.73, 0.95)])
    if pose == "folded":  # out towards the camera, down, then back to the palm
        return np.stack([mcp, mcp + [0, -0.05, -0.4], mcp + [0, 0.2, -0.45], mcp + [0, 0.3, -0.25]])
    raise ValueError(pose)


def thumb(pose: str) -> np.ndarray:
    """CMC, MCP, IP, tip of the thumb (on the index side)."""
    base = [(-0.25, -0.2, 0.0), (-0.45, -0.45, -0.05)]
    ends = {
        "upright": [(-0.5, -0.7, -0.08), (-0.5, -0.9, -0.1)],  # A: along the side of the fist
        "out": [(-0.7, -0.5, -0.05), (-0.95, -0.5, -0.05)],  # L: at a right angle
        "across": [(-0.2, -0.65, -0.3), (0.15, -0.72, -0.3)],  # V: holding ring and pinky down
        "pinch": [(-0.5, -0.75, -0.25), (-0.42, -0.95, -0.35)],  # F: meeting the index tip
    }[pose]
    return np.array(base + ends)


def hand(thumb_pose: str, **fingers) -> np.ndarray:
    """(21, 3) landmarks; ``fingers`` maps a finger to "extended", "folded" or an explicit (4, 3) array."""
    points = np.zeros((21, 3))
    points[1:5] = thumb(thumb_pose)
    for name, first in FIRST.items():
        pose = fingers.get(name, "folded")
        points[4 + first : 8 + first] = finger(name, pose) if isinstance(pose, str) else pose
    return points


def f_index() -> np.ndarray:
    """The index of F: bent forward so its tip meets the thumb tip."""
    mcp = np.array([*MCP["index"], 0.0])
    return np.stack([mcp, mcp + [-0.05, -0.3, -0.25], mcp + [-0.1, -0.15, -0.4], np.array([-0.42, -0.97, -0.38])])


POSES = {
    "A": hand("upright"),
    "F": hand("pinch", index=f_index(), middle="extended", ring="extended", pinky="extended"),
    "L": hand("out", index="extended"),
    "V": hand("across", index=finger("index", "extended", -0.2), middle=finger("middle", "extended", 0.1)),
}
NOT_GESTURES = {
    "open hand (B/5)": hand("upright", index="extended", middle="extended", ring="extended", pinky="extended"),
    "U (index and middle together)": hand("across", index="extended", middle="extended"),
    "S (thumb across the fist)": hand("across"),
    "pointing (D/1)": hand("across", index="extended"),
    "W (three fingers)": hand("across", index=finger("index", "extended", -0.2), middle="extended",
                              ring=finger("ring", "extended", 0.2)),
}


def scores_of(points: np.ndarray) -> dict[str, float]:
    return hand_shape(points).letter_scores()


def to_pixels(points: np.ndarray, degrees: float = 0.0, mirror: bool = False, scale: float = 150.0,
              offset=(320.0, 300.0)) -> np.ndarray:
    """Rotate in the image plane, optionally mirror (a left hand), scale and move into a frame."""
    angle = np.radians(degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    xy = points[:, :2] * ([-1, 1] if mirror else [1, 1])
    return np.c_[xy @ rotation.T * scale + offset, points[:, 2] * scale]


@pytest.mark.parametrize("letter", POSES)
def test_each_sign_fits_its_own_rule_only(letter):
    scores = scores_of(POSES[letter])
    assert scores[letter] > 0.8, scores
    assert all(score < 0.2 for other, score in scores.items() if other != letter), scores


@pytest.mark.parametrize("name", NOT_GESTURES)
def test_other_hand_shapes_fit_no_rule(name):
    scores = scores_of(NOT_GESTURES[name])
    assert max(scores.values()) < 0.5, (name, scores)


@pytest.mark.parametrize("letter", POSES)
@pytest.mark.parametrize(("degrees", "mirror"), [(0, False), (35, False), (-60, True), (180, False)])
def test_rules_ignore_rotation_size_position_and_handedness(letter, degrees, mirror):
    reference = scores_of(POSES[letter])
    moved = scores_of(to_pixels(POSES[letter], degrees, mirror))
    assert moved == pytest.approx(reference, abs=1e-6)


def test_finger_states_are_soft_between_extended_and_folded():
    half_bent = finger("middle", "extended")
    half_bent[2:] = half_bent[1] + np.array([[0.0, 0.0, -0.28], [0.0, 0.1, -0.45]])  # bent 90 degrees at the PIP
    shape = hand_shape(hand("upright", middle=half_bent))
    assert shape.extended["middle"] < 0.5 and shape.folded["middle"] < 1
    assert hand_shape(hand("upright", middle="extended")).extended["middle"] == 1.0


def test_two_dimensional_landmarks_are_accepted_and_bad_shapes_refused():
    assert scores_of(POSES["L"][:, :2])["L"] > 0.8  # a flat L keeps its rule without depth
    with pytest.raises(EmoscopeError, match="21 finite hand landmarks"):
        hand_shape(np.zeros((20, 3)))
    with pytest.raises(EmoscopeError, match="degenerate"):
        hand_shape(np.zeros((21, 3)))


def test_ramp():
    assert ramp(0.5, 0.0, 1.0) == 0.5 and ramp(-1, 0, 1) == 0 and ramp(2, 0, 1) == 1
    assert ramp(0.3, 0.4, 0.2) == pytest.approx(0.5)  # a falling ramp


@pytest.mark.parametrize("degrees", [0, 40, 90, -135])
def test_crop_turns_the_hand_upright_and_keeps_it_inside(degrees):
    points = to_pixels(POSES["V"], degrees)
    assert tilt_degrees(points) == pytest.approx(degrees, abs=1e-6)
    matrix, side = crop_transform(points)
    inside = np.c_[points[:, :2], np.ones(21)] @ matrix.T
    wrist, middle_knuckle = inside[0], inside[9]
    assert middle_knuckle[1] < wrist[1] and middle_knuckle[0] == pytest.approx(wrist[0], abs=1e-3)
    assert (inside >= 0).all() and (inside <= side).all()
    image = np.zeros((600, 640, 3), dtype=np.uint8)
    assert hand_crop(image, points).shape == (side, side, 3)


def test_hold_smoother_needs_n_frames_and_announces_each_gesture_once():
    smoother = HoldSmoother(3)
    labels = ["victory", "victory", UNKNOWN, "victory", "victory", "victory", "victory", UNKNOWN,
              "victory", "victory", NO_HAND, NO_HAND, NO_HAND, "victory", "victory", "victory", "punch"]
    events = [smoother.update(label) for label in labels]
    assert [(i, e) for i, e in enumerate(events) if e] == [(5, "victory"), (15, "victory")]
    assert smoother.stable == "victory"  # one frame of punch is not enough
    with pytest.raises(EmoscopeError, match="at least 1"):
        HoldSmoother(0)


def test_hold_of_one_frame_reports_a_still_image_at_once():
    smoother = HoldSmoother(1)
    assert smoother.update("loser") == "loser" and smoother.update(UNKNOWN) is None


def test_phrases_can_be_replaced_by_gesture_or_letter():
    phrases = phrases_with({"V": "We won", "punch": "Pow"})
    assert phrases["victory"] == "We won" and phrases["punch"] == "Pow" and phrases["super"] == DEFAULT_PHRASES["super"]
    with pytest.raises(EmoscopeError, match="no gesture 'wave'"):
        phrases_with({"wave": "hi"})
    with pytest.raises(EmoscopeError, match="empty"):
        phrases_with({"L": "  "})
