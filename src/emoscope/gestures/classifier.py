"""One gesture decision per hand from whichever view is reliable for the input: the landmark model
on camera hands, the Sign-MNIST-trained crop model on ready Sign-MNIST-style crops.

On camera hands the decision is the landmark model's (:mod:`emoscope.gestures.landmark_model`, fitted
on real people's hands): it reads the real photos measured in ``docs/gestures.md`` where the hand-set
rules missed most V's and A's. The rules' scores are still computed for every hand, as the
explanation shown beside the verdict and as the ``rules`` route. The crop model reads crops framed
like Sign MNIST at 99.7% but was right on under 1 in 10 real photos, so it votes only on ready crops
(``--crop``, a Sign MNIST CSV), where there are no landmarks. The answer is ``unknown`` rather than a
forced letter whenever the deciding view's evidence is thin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from emoscope.data.sign_mnist import GESTURE_LETTERS
from emoscope.errors import EmoscopeError
from emoscope.faces.hands import Hand, HandDetector
from emoscope.gestures.crop import hand_crop
from emoscope.gestures.landmark_model import SHIPPED as SHIPPED_LANDMARK_MODEL
from emoscope.gestures.landmark_model import LandmarkModel
from emoscope.gestures.landmarks import hand_shape
from emoscope.gestures.vocabulary import GESTURE_OF_LETTER, NO_HAND, UNKNOWN

DEFAULT_MODEL = "asl-gesture"
MIN_IMAGE_SIDE = 64
"""Below this MediaPipe finds no hands, so :func:`require_hand_sized` refuses such input with a
hint rather than reporting "no hand"."""

Route = Literal["combined", "landmarks", "rules", "crop"]


class GestureOptions(BaseModel):
    """How hands are judged; the defaults suit a webcam or a photo."""

    model_config = ConfigDict(extra="forbid")

    route: Route = Field("combined", description="combined (each view where it is reliable) | landmarks "
                         "(the landmark model only) | rules (the hand-set geometry rules only) | crop (the "
                         "crop model only, even on camera hands)")
    accept: float = Field(0.5, gt=0, le=1, description="the deciding view's score for a letter must reach this")
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
    landmark_probs: dict[str, float]  # the landmark model's probabilities (A, F, L, V, other); empty when unused
    scores: dict[str, float]  # the deciding view's score per letter
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


def decide(crop_probs: dict[str, float], rule_scores: dict[str, float], options: GestureOptions,
           landmark_probs: dict[str, float] | None = None) -> tuple[dict[str, float], str | None, float]:
    """Score per letter, the accepted letter (or None) and its score.

    The crop model decides on the crop route and on a crop without landmarks (no ``rule_scores``);
    the rules on the rules route or when no landmark model ran; otherwise the landmark model. So the
    combined route equals the landmark route on camera hands, and a confident crop model cannot force
    a letter the landmarks reject.
    """
    if options.route == "crop" or not rule_scores:
        probabilities = crop_probs
    elif options.route == "rules" or not landmark_probs:
        probabilities = None
    else:
        probabilities = landmark_probs
    scores = dict(rule_scores) if probabilities is None else {letter: probabilities[letter] for letter in GESTURE_LETTERS}
    best = max(scores, key=scores.get)
    accepted = best if scores[best] >= options.accept else None
    if probabilities is not None and probabilities.get("other", 0.0) >= scores[best]:
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

    def __init__(self, options: GestureOptions | None = None, model: str = DEFAULT_MODEL, still: bool = True,
                 landmark_model: str | Path = SHIPPED_LANDMARK_MODEL):
        self.options = options or GestureOptions()
        self.predictor = None
        self.landmark_model = LandmarkModel.load(landmark_model) if self.options.route in ("combined", "landmarks") \
            else None
        if self.options.route in ("combined", "crop"):
            from emoscope.runtime.predictor import shared_predictor

            self.predictor = shared_predictor(model, "auto")
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
        if self.options.route in ("landmarks", "rules"):
            raise EmoscopeError("hand crops carry no landmarks: use the crop or combined route, not landmarks or rules")
        results = []
        for probs in self._crop_probs(crops) if len(crops) else []:
            scores, letter, confidence = decide(probs, {}, self.options)
            results.append(HandResult(None, probs, {}, {}, scores, letter, confidence))
        return results

    def classify(self, image_bgr: np.ndarray, index: int = 0, time: float = 0.0) -> GestureFrame:
        if self._detector is None:
            self._detector = HandDetector(self._still, self.options.max_hands, self.options.min_hand_confidence)
        hands = sorted(self._detector(image_bgr), key=lambda h: -h.size)  # the biggest hand first
        if self.options.route == "crop" and hands:  # the model has no vote on camera hands otherwise
            crop_probs = self._crop_probs([hand_crop(image_bgr, hand.landmarks) for hand in hands])
        else:
            crop_probs = [{} for _ in hands]
        results = []
        for hand, probs in zip(hands, crop_probs):
            rules = hand_shape(hand.landmarks).letter_scores()
            landmark_probs = self.landmark_model.probabilities(hand.landmarks) if self.landmark_model else {}
            scores, letter, confidence = decide(probs, rules, self.options, landmark_probs)
            results.append(HandResult(hand, probs, rules, landmark_probs, scores, letter, confidence))
        return GestureFrame(index, time, results)

    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()
