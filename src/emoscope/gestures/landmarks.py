"""Hand shape from MediaPipe's 21 hand landmarks: finger extension and contact states, and the four
gesture letters as rules on those states (no training data needed).

Every state is a soft score in [0, 1], a linear ramp between two thresholds, and a rule's score is
the smallest of its conditions (a fuzzy AND): a half-bent finger gives a middling score instead of
a coin flip. Measurements are angles and distances relative to the palm in 3-D (MediaPipe's ``z``
is in roughly the scale of ``x``), so the rules hold for any rotation, distance and either hand.
The thresholds were set from how the signs are made, not fitted to data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emoscope.errors import EmoscopeError

WRIST = 0
FINGER_JOINTS: dict[str, tuple[int, int, int, int]] = {
    "thumb": (1, 2, 3, 4),  # CMC, MCP, IP, tip
    "index": (5, 6, 7, 8),  # MCP, PIP, DIP, tip
    "middle": (9, 10, 11, 12),
    "ring": (13, 14, 15, 16),
    "pinky": (17, 18, 19, 20),
}
LONG_FINGERS = ("index", "middle", "ring", "pinky")


def ramp(value: float, low: float, high: float) -> float:
    """0 at or below ``low``, 1 at or above ``high``, linear between (``low > high`` falls instead)."""
    return float(np.clip((value - low) / (high - low), 0.0, 1.0))


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-9)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(unit(a), unit(b)))


def angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(_cos(a, b), -1.0, 1.0))))


@dataclass(frozen=True)
class HandShape:
    """Soft states of one hand; every value is in [0, 1]."""

    extended: dict[str, float]
    """Long fingers: straight and pointing along the palm. Thumb: out to the side, away from the index."""
    folded: dict[str, float]
    """Long fingers curled forward, the fingertip pointing well away from the palm's axis."""
    knuckle_bent: dict[str, float]
    """Long fingers bent at the knuckle itself, as in a fist (E curls only the finger joints)."""
    thumb_index_touch: float
    """Thumb tip on index tip (the circle of F)."""
    index_middle_spread: float
    """Index and middle fingers apart, as in V (not together, as in U)."""
    thumb_across_palm: float
    """Thumb tip in front of the middle/ring fingers (S, E, V's thumb) rather than beside the index (A)."""
    thumb_between_fingers: float
    """Thumb tip pushed in between the index and middle fingers (T, K) rather than outside the index."""

    def letter_scores(self) -> dict[str, float]:
        """How well each gesture letter's rule fits, from 0 (not at all) to 1."""
        ext, fold = self.extended, self.folded
        fist = min(min(fold[f], self.knuckle_bent[f]) for f in LONG_FINGERS)
        return {
            # A: a fist with the thumb beside the index finger or just over it, not across or between.
            "A": min(fist, 1 - ext["thumb"], 1 - self.thumb_across_palm, 1 - self.thumb_between_fingers),
            # F: thumb and index make a circle, the other three fingers stand up (together or spread).
            "F": min(self.thumb_index_touch, ext["middle"], ext["ring"], ext["pinky"]),
            # L: index up and thumb out to the side, the rest folded.
            "L": min(ext["index"], ext["thumb"], fold["middle"], fold["ring"], fold["pinky"]),
            # V: index and middle up and spread, ring and little folded under a thumb held across or in.
            "V": min(ext["index"], ext["middle"], self.index_middle_spread, fold["ring"], fold["pinky"],
                     1 - ext["thumb"], self.thumb_across_palm),
        }


def checked_points(points: np.ndarray) -> np.ndarray:
    """``(21, 3)`` float64 landmarks (a ``(21, 2)`` input gets zero depth); a one-line error for anything
    else, or for a hand whose wrist and middle knuckle coincide (no palm to measure against)."""
    points = np.asarray(points, dtype=np.float64)
    if points.shape == (21, 2):
        points = np.concatenate([points, np.zeros((21, 1))], axis=1)
    if points.shape != (21, 3) or not np.isfinite(points).all():
        raise EmoscopeError(f"expected 21 finite hand landmarks as (21, 2) or (21, 3), got shape {points.shape}")
    if np.linalg.norm(points[9] - points[WRIST]) < 1e-6:
        raise EmoscopeError("hand landmarks are degenerate (wrist and knuckles coincide)")
    return points


def hand_shape(points: np.ndarray) -> HandShape:
    """The soft states of a hand from its ``(21, 3)`` (or ``(21, 2)``) landmarks in pixels.

    Only angles between bones and distances divided by the palm's length are used, so neither the
    hand's rotation, its size in the image, nor which hand it is changes a state. The thresholds sit
    between the ranges real joints take for each state, with a margin for depth (``z``) being
    compressed and noisy in MediaPipe's output; ``docs/gestures.md`` shows them on generated hands.
    """
    p = checked_points(points)
    wrist = p[WRIST]
    palm_axis = p[9] - wrist  # wrist to middle knuckle: "up" for the hand
    palm = float(np.linalg.norm(palm_axis))

    extended, folded, knuckle_bent = {}, {}, {}
    for name in LONG_FINGERS:
        mcp, pip, _, tip = (p[i] for i in FINGER_JOINTS[name])
        pointing = angle_deg(tip - mcp, palm_axis)  # 0 along the palm; a fist's fingertips point back
        straight = _cos(pip - mcp, tip - pip)  # 1 when the finger is a straight line
        extended[name] = min(ramp(pointing, 50, 38), ramp(straight, 0.5, 0.75))
        folded[name] = ramp(pointing, 50, 65)
        knuckle_bent[name] = ramp(angle_deg(pip - mcp, palm_axis), 30, 45)

    thumb_tip = p[4]
    # Where the thumb tip sits along the knuckle line: 0 at the index knuckle, 1 at the little finger's.
    knuckles = p[17] - p[5]
    across = float(np.dot(thumb_tip - p[5], knuckles) / max(np.dot(knuckles, knuckles), 1e-9))
    thumb_away = np.linalg.norm(thumb_tip - p[5]) / palm
    extended["thumb"] = min(ramp(thumb_away, 0.6, 0.72), ramp(across, -0.4, -0.6))
    # The gap between the index and middle fingers' middle joints: a T's thumb tip is at it (or, in
    # S, past it towards the little finger); an A's stays on the index side, some way off.
    gap = (p[6] + p[10]) / 2
    past_gap = float(np.dot(thumb_tip - gap, unit(knuckles))) - float(np.linalg.norm(thumb_tip - gap))

    index_dir, middle_dir = p[8] - p[5], p[12] - p[9]
    tip_gap = np.linalg.norm(p[8] - p[12]) / palm
    return HandShape(
        extended=extended,
        folded=folded,
        knuckle_bent=knuckle_bent,
        thumb_index_touch=ramp(np.linalg.norm(thumb_tip - p[8]) / palm, 0.4, 0.2),
        index_middle_spread=min(ramp(angle_deg(index_dir, middle_dir), 10, 14), ramp(tip_gap, 0.43, 0.51)),
        thumb_across_palm=ramp(across, 0.2, 0.35),
        thumb_between_fingers=ramp(past_gap / palm, -0.21, -0.16),
    )
