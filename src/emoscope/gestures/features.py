"""A hand's shape as a fixed vector of measurements, the input of the landmark model.

The measurements are the quantities the rules in :mod:`emoscope.gestures.landmarks` ramp between
thresholds, taken raw, plus a few more contacts of the thumb: angles between bones, and distances
divided by the palm length (wrist to middle knuckle). So image rotation, hand size, position and
handedness change none of them (a mirror image gives the same vector).
"""

from __future__ import annotations

import numpy as np

from emoscope.gestures.landmarks import FINGER_JOINTS, LONG_FINGERS, WRIST, angle_deg, checked_points, unit

FINGER_MEASURES = ("pointing", "straight", "knuckle", "tip_to_wrist", "reach")
"""Per long finger: knuckle-to-tip angle from the palm axis (/90 degrees), cosine between its two
first bones, proximal bone's angle from the palm axis (/90 degrees), fingertip to wrist and
fingertip to knuckle (palm lengths)."""
THUMB_MEASURES = ("thumb_away", "thumb_across", "thumb_past_gap", "thumb_to_index_tip", "thumb_to_middle_tip",
                  "thumb_to_middle_pip", "thumb_to_ring_pip", "thumb_pointing", "thumb_straight", "thumb_height")
SPREAD_MEASURES = ("index_middle_angle", "index_middle_tips", "middle_ring_angle", "ring_pinky_angle")
FEATURE_NAMES = tuple(f"{finger}_{measure}" for finger in LONG_FINGERS for measure in FINGER_MEASURES) \
    + THUMB_MEASURES + SPREAD_MEASURES


def hand_features(points: np.ndarray) -> np.ndarray:
    """The :data:`FEATURE_NAMES` measurements of one hand from its ``(21, 3)`` or ``(21, 2)`` landmarks."""
    p = checked_points(points)
    wrist = p[WRIST]
    palm_axis = p[9] - wrist
    palm = float(np.linalg.norm(palm_axis))
    values: list[float] = []
    for name in LONG_FINGERS:
        mcp, pip, _, tip = (p[i] for i in FINGER_JOINTS[name])
        values += [angle_deg(tip - mcp, palm_axis) / 90, float(np.dot(unit(pip - mcp), unit(tip - pip))),
                   angle_deg(pip - mcp, palm_axis) / 90, np.linalg.norm(tip - wrist) / palm,
                   np.linalg.norm(tip - mcp) / palm]
    thumb_tip = p[4]
    knuckles = p[17] - p[5]
    gap = (p[6] + p[10]) / 2
    values += [np.linalg.norm(thumb_tip - p[5]) / palm,
               float(np.dot(thumb_tip - p[5], knuckles) / max(np.dot(knuckles, knuckles), 1e-9)),
               (float(np.dot(thumb_tip - gap, unit(knuckles))) - np.linalg.norm(thumb_tip - gap)) / palm,
               np.linalg.norm(thumb_tip - p[8]) / palm, np.linalg.norm(thumb_tip - p[12]) / palm,
               np.linalg.norm(thumb_tip - p[10]) / palm, np.linalg.norm(thumb_tip - p[14]) / palm,
               angle_deg(thumb_tip - p[2], palm_axis) / 90, float(np.dot(unit(p[3] - p[2]), unit(thumb_tip - p[3]))),
               float(np.dot(thumb_tip - wrist, unit(palm_axis))) / palm]
    values += [angle_deg(p[8] - p[5], p[12] - p[9]) / 90, np.linalg.norm(p[8] - p[12]) / palm,
               angle_deg(p[12] - p[9], p[16] - p[13]) / 90, angle_deg(p[16] - p[13], p[20] - p[17]) / 90]
    return np.asarray(values, dtype=np.float64)
