"""Hand gestures with a spoken response: ASL A/F/L/V -> punch / super / loser / victory.

MediaPipe Hands finds each hand and landmark-geometry rules read its shape (a Sign-MNIST-trained
model reads ready Sign-MNIST-style crops); the verdict is smoothed over frames and every new
gesture is spoken once through espeak-ng.
"""

from emoscope.gestures.classifier import GestureClassifier, GestureFrame, GestureOptions, HandResult
from emoscope.gestures.landmarks import HandShape, hand_shape
from emoscope.gestures.speech import Speaker, synthesize
from emoscope.gestures.stream import HoldSmoother, gesture_results
from emoscope.gestures.vocabulary import DEFAULT_PHRASES, GESTURES, NO_HAND, UNKNOWN

__all__ = ["DEFAULT_PHRASES", "GESTURES", "NO_HAND", "UNKNOWN", "GestureClassifier", "GestureFrame",
           "GestureOptions", "HandResult", "HandShape", "HoldSmoother", "Speaker", "gesture_results",
           "hand_shape", "synthesize"]
