"""Label sets as data, and explicit mappings between them.

Every dataset, model and report speaks in terms of a :class:`LabelSet`; class indices never
travel without the set that gives them meaning. Mappings go by class *name*, so FER+'s
"happiness" and an image folder called ``Happy`` both land on ``happy``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emoscope.errors import DataError

# Spellings found in FER+, AffectNet, RAF-DB, CK+ folder names and the like.
ALIASES: dict[str, str] = {
    "anger": "angry",
    "disgusted": "disgust",
    "fearful": "fear",
    "scared": "fear",
    "happiness": "happy",
    "joy": "happy",
    "sadness": "sad",
    "surprised": "surprise",
    "calm": "neutral",
    "contemptuous": "contempt",
}


def canonical_name(name: str) -> str:
    """Lower-case a class name and resolve common aliases (``Happiness`` -> ``happy``)."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    return ALIASES.get(key, key)


@dataclass(frozen=True)
class LabelSet:
    """An ordered set of class names; the position of a name is its class index."""

    name: str
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"label set {self.name!r} has duplicate classes: {self.classes}")

    def __len__(self) -> int:
        return len(self.classes)

    def index(self, class_name: str) -> int:
        if class_name in self.classes:  # exact first: letter classes such as "A" are upper-case
            return self.classes.index(class_name)
        try:
            return self.classes.index(canonical_name(class_name))
        except ValueError:
            raise DataError(
                f"unknown class {class_name!r} for label set {self.name!r} "
                f"(known: {', '.join(self.classes)})"
            ) from None

    def mapping_to(self, other: LabelSet) -> np.ndarray:
        """Index map ``m`` with ``m[i]`` = index in ``other`` of class ``i`` here, or -1 if absent."""
        return np.array(
            [other.classes.index(c) if c in other.classes else -1 for c in self.classes],
            dtype=np.int64,
        )


FER7 = LabelSet("fer2013", ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"))
"""FER2013's seven classes in the official order of the ``emotion`` column (0..6)."""

FERPLUS8 = LabelSet("ferplus", FER7.classes + ("contempt",))
"""FER+'s eight emotions, in FER2013 order with contempt appended, so FER7 indices carry over."""

FIVE = LabelSet("fer5", ("angry", "disgust", "happy", "neutral", "surprise"))
"""The five classes of the real-time study (angry, disgust, happy, neutral, surprise)."""

PANIC_CLASSES = ("fear",)
"""Expressions that count as panic by default; see :func:`panic_label_set`."""


def panic_label_set() -> LabelSet:
    """The binary panic task: index 0 = calm (everything else), 1 = panic."""
    return LabelSet("panic", ("calm", "panic"))


def panic_targets(labels: np.ndarray, source: LabelSet, panic_classes=PANIC_CLASSES) -> np.ndarray:
    """Binary panic labels (1 = panic) from expression labels of ``source``."""
    wanted = {canonical_name(c) for c in panic_classes}
    unknown = wanted - set(source.classes)
    if unknown:
        raise DataError(f"panic classes {sorted(unknown)} are not in label set {source.name!r}")
    is_panic = np.array([c in wanted for c in source.classes], dtype=np.int64)
    return is_panic[np.asarray(labels, dtype=np.int64)]


LABEL_SETS: dict[str, LabelSet] = {ls.name: ls for ls in (FER7, FERPLUS8, FIVE, panic_label_set())}


def get_label_set(name: str) -> LabelSet:
    try:
        return LABEL_SETS[name]
    except KeyError:
        raise DataError(f"unknown label set {name!r} (known: {', '.join(LABEL_SETS)})") from None
