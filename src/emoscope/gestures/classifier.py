"""One gesture decision per hand from two independent views: the Sign-MNIST-trained crop model and
the landmark-geometry rules, combined by a weighted vote.

The crop model is accurate on Sign MNIST but sees camera photos as a different domain; the
geometry rules need no training data but cannot tell look-alike signs apart. A weighted sum of the
two, with an acceptance threshold, lets either view veto a weak call from the other, and the
answer is ``unknown`` rather than a forced letter whenever the evidence is thin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from emoscope.data.sign_mnist import GESTURE_LETTERS
from emoscope.errors import EmoscopeError
from emoscope.faces.hands import Hand, HandDetector
from emoscope.gestures.crop import hand_crop
from emoscope.gestures.landmarks import hand_shape
from emoscope.gestures.vocabulary import GESTURE_OF_LETTER, NO_HAND, UNKNOWN

DEFAULT_MODEL = "asl-gesture"
MIN_IMAGE_SIDE = 64
"""Below this MediaPipe finds no hands, so :func:`require_hand_sized` refuses such input with a
hint rather than reporting "no hand"."""

Route = Literal["combined", "landmarks", "crop"]


class GestureOptions(BaseModel):
    """How hands are judged; the defaults suit a webcam or a photo."""

    model_config = ConfigDict(extra="forbid")

    route: Route = Field("combined", description="combined | landmarks (geometry only) | crop (model only)")
    landmark_weight: float = Field(0.6, ge=0, le=1, description="share of the geometry rules in the vote; "
                                   "more than half, because camera crops are outside the model's training data")
    accept: float = Field(0.5, gt=0, le=1, description="a letter's combined score must reach this")
    max_hands: int = Field(2, ge=1, le=4)
    min_hand_confidence: float = Field(0.5, ge=0, le=1)

    @classmethod
    def checked(cls, **options) -> GestureOptions:
        """Validated options; a bad value is a one-line :class:`EmoscopeError`."""
        try:
            return cls(**options)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise EmoscopeError(f"invalid gesture option {'.'.join(map(str, err['loc']))!r}: {err['msg']}") from None


@dataclass
class HandResult:
    """One hand's verdict and the evidence for it."""

    hand: Hand | None  # None when the input was already a hand crop (no landmarks)
    crop_probs: dict[str, float]  # the crop model's probabilities (A, F, L, V, other); empty when unused
    rule_scores: dict[str, float]  # the geometry rules' scores (A, F, L, V); empty when unused
    scores: dict[str, float]  # combined score per letter
    letter: str | None  # the accepted letter, or None
    confidence: float  # the best letter's combined score

    @property
    def gesture(self) -> str:
        return GESTURE_OF_LETTER[self.letter] if self.letter else UNKNOWN


@dataclass
class GestureFrame:
    """All hands of one frame and the frame's single gesture label."""

    index: int
    time: float
    hands: list[HandResult] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``no hand``, one gesture, or ``unknown`` (hands show none of the four, or disagree)."""
        if not self.hands:
            return NO_HAND
        gestures = {hand.gesture for hand in self.hands} - {UNKNOWN}
        return gestures.pop() if len(gestures) == 1 else UNKNOWN

    @property
    def note(self) -> str:
        if len(self.hands) > 1:
            shown = ", ".join(hand.gesture for hand in self.hands)
            return f"{len(self.hands)} hands ({shown})"
        return ""


def decide(crop_probs: dict[str, float], rule_scores: dict[str, float], options: GestureOptions
           ) -> tuple[dict[str, float], str | None, float]:
    """Combined score per letter, the accepted letter (or None) and its score."""
    if options.route == "crop":
        scores = {letter: crop_probs[letter] for letter in GESTURE_LETTERS}
    elif options.route == "landmarks":
        scores = dict(rule_scores)
    else:
        w = options.landmark_weight
        scores = {letter: w * rule_scores[letter] + (1 - w) * crop_probs[letter] for letter in GESTURE_LETTERS}
    best = max(scores, key=scores.get)
    accepted = best if scores[best] >= options.accept else None
    if options.route == "crop" and crop_probs.get("other", 0.0) >= scores[best]:
        accepted = None  # the model's own "none of the four" wins a tie
    return scores, accepted, float(scores[best])


def require_hand_sized(image_bgr: np.ndarray, source: str) -> None:
    """Refuse images too small for MediaPipe to find a hand in, naming the file and the way out."""
    height, width = image_bgr.shape[:2]
    if min(height, width) < MIN_IMAGE_SIDE:
        raise EmoscopeError(f"{source}: {width}x{height} is too small to find a hand in (need {MIN_IMAGE_SIDE} px "
                            "a side); for a ready hand crop like Sign MNIST's 28x28 use --crop")


class GestureClassifier:
    """Hands in a BGR frame -> a :class:`GestureFrame`. ``still`` images detect hands afresh; video
    frames (``still=False``) let MediaPipe track them."""

    def __init__(self, options: GestureOptions | None = None, model: str = DEFAULT_MODEL, still: bool = True):
        self.options = options or GestureOptions()
        self.predictor = None
        if self.options.route != "landmarks":
            from emoscope.runtime.predictor import load_predictor

            self.predictor = load_predictor(model)
            missing = set(GESTURE_LETTERS + ("other",)) - set(self.predictor.classes)
            if missing:
                lacking = ", ".join(sorted(missing))
                raise EmoscopeError(f"{self.predictor.source}: not a gesture model (lacks {lacking})")
        self._detector: HandDetector | None = None
        self._still = still

    def _crop_probs(self, crops: list[np.ndarray]) -> list[dict[str, float]]:
        probs = self.predictor.predict_proba(crops)
        return [dict(zip(self.predictor.classes, map(float, row))) for row in probs]

    def classify_crops(self, crops: list[np.ndarray]) -> list[HandResult]:
        """Hand crops already framed like Sign MNIST (e.g. its own 28x28 images): the model alone."""
        if self.predictor is None:
            raise EmoscopeError("hand crops carry no landmarks: use the crop or combined route, not landmarks")
        crop_only = self.options.model_copy(update={"route": "crop"})
        results = []
        for probs in self._crop_probs(crops) if len(crops) else []:
            scores, letter, confidence = decide(probs, {}, crop_only)
            results.append(HandResult(None, probs, {}, scores, letter, confidence))
        return results

    def classify(self, image_bgr: np.ndarray, index: int = 0, time: float = 0.0) -> GestureFrame:
        if self._detector is None:
            self._detector = HandDetector(self._still, self.options.max_hands, self.options.min_hand_confidence)
        hands = sorted(self._detector(image_bgr), key=lambda h: -h.size)  # the biggest hand first
        if self.predictor is not None and hands:
            crop_probs = self._crop_probs([hand_crop(image_bgr, hand.landmarks) for hand in hands])
        else:
            crop_probs = [{} for _ in hands]
        results = []
        for hand, probs in zip(hands, crop_probs):
            rules = hand_shape(hand.landmarks).letter_scores()
            scores, letter, confidence = decide(probs, rules, self.options)
            results.append(HandResult(hand, probs, rules, scores, letter, confidence))
        return GestureFrame(index, time, results)

    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()
