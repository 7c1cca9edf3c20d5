"""MediaPipe Hands (models bundled in the wheel, nothing downloaded): 21 3-D landmarks per hand."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from emoscope.faces.mediapipe_solutions import SolutionRunner, landmark_pixels


@dataclass(frozen=True)
class Hand:
    landmarks: np.ndarray
    """``(21, 3)`` float32: x, y in pixels; z (depth, smaller = nearer) in the same scale as x."""
    handedness: str  # "Left" or "Right", as MediaPipe reports it for a mirrored (selfie) view
    score: float

    @property
    def box(self) -> tuple[float, float, float, float]:
        """x1, y1, x2, y2 around the landmarks (joint centres, so a little inside the skin)."""
        (x1, y1), (x2, y2) = self.landmarks[:, :2].min(axis=0), self.landmarks[:, :2].max(axis=0)
        return float(x1), float(y1), float(x2), float(y2)

    @property
    def size(self) -> float:
        x1, y1, x2, y2 = self.box
        return max(x2 - x1, y2 - y1)


STILL_RETRY_BORDER = 0.3
"""A still image where no hand is found is searched once more inside a black border this fraction of
its longer side wide: MediaPipe's palm detector misses hands that fill the frame, as a close-up A
fist does (``tests/test_gestures_photos.py`` has one; ``docs/gestures.md`` the real photos)."""


SEARCH_STREAM = "search_palms"
"""The input stream of :func:`hands_searching_on_request`'s graph that says whether to search the frame."""


def hands_searching_on_request(mp, max_hands: int, complexity: int, min_confidence: float):
    """MediaPipe Hands in tracking mode whose palm detector (the search of the whole frame for hands, its
    costliest part: about 12 ms of a call's 18 on two cores) runs only on the frames the caller asks it to
    (a bool on :data:`SEARCH_STREAM`), where the stock graph runs it whenever it follows fewer hands than it
    may. Hands it follows are tracked from their last landmarks as in the stock graph."""
    from mediapipe.framework import calculator_pb2
    from mediapipe.python.solution_base import SolutionBase
    from mediapipe.python.solutions import hands as stock

    config = calculator_pb2.CalculatorGraphConfig()
    config.ParseFromString((Path(mp.__file__).parent.parent / stock._BINARYPB_FILE_PATH).read_bytes())
    gates = [node for node in config.node if node.calculator == "GateCalculator"
             and "DISALLOW:prev_has_enough_hands" in node.input_stream]
    if len(gates) != 1:  # another MediaPipe's graph: this one is made for 0.10.21's
        raise RuntimeError("MediaPipe's hand graph has no palm-detection gate to take over")
    gates[0].input_stream.remove("DISALLOW:prev_has_enough_hands")
    gates[0].input_stream.append(f"ALLOW:{SEARCH_STREAM}")
    config.input_stream.append(SEARCH_STREAM)
    return SolutionBase(
        graph_config=config,
        side_inputs={"model_complexity": complexity, "num_hands": max_hands, "use_prev_landmarks": True},
        calculator_params={"palmdetectioncpu__TensorsToDetectionsCalculator.min_score_thresh": min_confidence,
                           "handlandmarkcpu__ThresholdingCalculator.threshold": min_confidence},
        outputs=["multi_hand_landmarks", "multi_handedness"])


class HandDetector:
    """Finds up to ``max_hands`` hands. ``still=True`` detects afresh in every image (and retries a
    close-up inside a border); ``False`` tracks hands from frame to frame (much faster on video, and
    steadier landmarks)."""

    def __init__(self, still: bool = True, max_hands: int = 2, min_confidence: float = 0.5, complexity: int = 1,
                 search_every: int = 1):
        """``complexity`` 0 is the lighter landmark model (enough to tell a hand on a face; about twice as fast).
        ``search_every`` (tracking only): while some but fewer than ``max_hands`` hands are followed, search
        the frame for more on every Nth call only (with none followed, every call searches; 1: as MediaPipe
        does, every call that follows fewer than it may)."""
        self._still = still
        self._max_hands = max_hands
        self._search_every = 1 if still else search_every
        self._followed = self._calls = 0
        if self._search_every == 1:
            self._hands = SolutionRunner(lambda mp: mp.solutions.hands.Hands(
                static_image_mode=still, max_num_hands=max_hands, model_complexity=complexity,
                min_detection_confidence=min_confidence, min_tracking_confidence=min_confidence),
                findings="multi_hand_landmarks")
        else:
            self._hands = SolutionRunner(
                lambda mp: hands_searching_on_request(mp, max_hands, complexity, min_confidence),
                findings="multi_hand_landmarks", streams={SEARCH_STREAM: True})

    def __call__(self, image_bgr: np.ndarray) -> list[Hand]:
        hands = self._find(image_bgr)
        if hands or not self._still:
            return hands
        border = int(STILL_RETRY_BORDER * max(image_bgr.shape[:2]))
        framed = cv2.copyMakeBorder(image_bgr, border, border, border, border, cv2.BORDER_CONSTANT, value=0)
        shift = np.array([border, border, 0], np.float32)
        return [Hand(hand.landmarks - shift, hand.handedness, hand.score) for hand in self._find(framed)]

    def _find(self, image_bgr: np.ndarray) -> list[Hand]:
        height, width = image_bgr.shape[:2]
        if self._search_every == 1:
            result = self._hands.process(image_bgr)
        else:
            search = self._followed == 0 or (self._followed < self._max_hands
                                              and self._calls % self._search_every == 0)
            result = self._hands.process(image_bgr, {SEARCH_STREAM: search})
            self._followed = len(result.multi_hand_landmarks or [])
            self._calls += 1
        hands = []
        for marks, which in zip(result.multi_hand_landmarks or [], result.multi_handedness or []):
            label = which.classification[0]
            hands.append(Hand(landmark_pixels(marks, width, height), label.label, float(label.score)))
        return hands

    def close(self) -> None:
        self._hands.close()

    def __enter__(self) -> HandDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
