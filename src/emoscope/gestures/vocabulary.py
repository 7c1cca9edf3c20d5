"""The hand signs emoscope answers, and what it says for each.

Four static ASL letters carry a meaning: A (a fist) is "punch", F "super", L "loser", V "victory".
Everything else a hand does is ``unknown``; a frame without a hand is ``no hand``.
"""

from __future__ import annotations

from emoscope.data.sign_mnist import GESTURE_LETTERS
from emoscope.errors import EmoscopeError

GESTURE_OF_LETTER: dict[str, str] = dict(zip(GESTURE_LETTERS, ("punch", "super", "loser", "victory")))
LETTER_OF_GESTURE: dict[str, str] = {gesture: letter for letter, gesture in GESTURE_OF_LETTER.items()}
GESTURES: tuple[str, ...] = tuple(GESTURE_OF_LETTER.values())

NO_HAND = "no hand"
UNKNOWN = "unknown"
"""A hand that is none of the four signs, or one the classifiers do not agree on."""

DEFAULT_PHRASES: dict[str, str] = {"punch": "Punch!", "super": "Super!", "loser": "Loser!", "victory": "Victory!"}


def phrases_with(overrides: dict[str, str]) -> dict[str, str]:
    """The default phrases with some replaced, e.g. ``{"victory": "We won"}``; keys are gestures or letters."""
    phrases = dict(DEFAULT_PHRASES)
    for key, text in overrides.items():
        gesture = GESTURE_OF_LETTER.get(key.upper(), key.lower())
        if gesture not in phrases:
            raise EmoscopeError(f"no gesture {key!r} to give a phrase (known: {', '.join(GESTURES)} or "
                                f"{', '.join(GESTURE_LETTERS)})")
        if not text.strip():
            raise EmoscopeError(f"the phrase for {gesture!r} is empty")
        phrases[gesture] = text
    return phrases
